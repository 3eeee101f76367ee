// The project itself through the Pulumi CLI and its Node.js language host (not the Automation
// API): `pulumi preview` compiles index.ts with the project's tsconfig (Pulumi's ts-node), reads
// the stack file and refuses a bad one with the schema's message. No host is contacted: the
// config error stops the program before preflight, and preflight is off besides.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = path.join(__dirname, "..", "..");
let dir: string;
let env: NodeJS.ProcessEnv;

function pulumi(args: string[], input?: string) {
    const r = spawnSync("pulumi", [...args, "--non-interactive"], { cwd: dir, env, encoding: "utf8", input: input ?? "", timeout: 240_000 });
    return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-project-"));
    for (const f of ["Pulumi.yaml", "Pulumi.dev.yaml", "index.ts", "program.ts", "tsconfig.json", "package.json"]) fs.copyFileSync(path.join(REPO, f), path.join(dir, f));
    fs.cpSync(path.join(REPO, "components"), path.join(dir, "components"), { recursive: true });
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
    fs.mkdirSync(path.join(dir, "state"));
    env = { ...process.env, PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`, PULUMI_CONFIG_PASSPHRASE: "cli-project-test", PULUMI_SKIP_UPDATE_CHECK: "true", PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true" };
    expect(pulumi(["stack", "init", "dev"]).status).toBe(0);
}, 300_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("pulumi preview of the project through the CLI", () => {
    it("is refused by the engine until the SSH key is set, naming the key", () => {
        const r = pulumi(["preview"]);
        expect(r.status).not.toBe(0);
        expect(r.out).toContain("missing configuration value 'sshPrivateKey'");
    });

    it("compiles the program and refuses a gateway outside the subnet with the schema's message", () => {
        expect(pulumi(["config", "set", "--secret", "sshPrivateKey"], "not-a-real-key").status).toBe(0);
        expect(pulumi(["config", "set", "--path", "preflight.enabled", "false"]).status).toBe(0);
        expect(pulumi(["config", "set", "--path", "network.gateway", "10.0.9.1"]).status).toBe(0);
        const r = pulumi(["preview"]);
        expect(r.status).not.toBe(0);
        expect(r.out).toContain("Pulumi.dev.yaml has a problem; nothing was changed on any host");
        expect(r.out).toContain('`docker-overlay:network.gateway` is "10.0.9.1": the gateway must lie inside `network.subnet` 10.0.1.0/24');
        // No compiler failure, no stack trace, no Node warning: only the message.
        expect(r.out).not.toMatch(/TSError|Unable to compile|PromiseRejectionHandledWarning|    at /);
        expect(r.out).not.toContain("not-a-real-key");
    }, 240_000);
});
