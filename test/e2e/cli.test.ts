// The project through the Pulumi CLI, as a user runs it (index.ts compiled by Pulumi's ts-node,
// the language host, the upstream plugins), on two lab hosts in swarm mode, given by DNS name
// (lab1, lab2: this test adds them to this machine's /etc/hosts for its duration; the lab hosts
// resolve them already), as the shipped prod stack gives its hosts. The SSH private key
// the docker provider reads from a file exists only while a run needs it. After `pulumi up`
// returns, no key file is left on this machine; `pulumi destroy --run-program` (the README's
// command) writes it again for its run, takes everything down, and leaves no key behind either.
// Plain `pulumi destroy` (which does not run the program) is refused by the provider's SSH
// before anything is deleted, and the README says so.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Lab } from "../../scripts/labStack";
import { docker, freshLab, holdLabSession, phase, printTimings } from "./harness";
import { poll } from "./poll";

const REPO = path.join(__dirname, "..", "..");
/** Where sshFiles.ts keeps the key (the OS temp dir of this user). */
const KEY_DIR = path.join(os.tmpdir(), `docker-overlay-${process.getuid!()}`);

/** Marks the lines this test adds to /etc/hosts, so that they go again whatever happens. */
const HOSTS_TAG = "# docker-overlay e2e cli.test.ts";
function untagHosts(): void {
    const text = fs.readFileSync("/etc/hosts", "utf8");
    const kept = text.split("\n").filter((l) => !l.endsWith(HOSTS_TAG));
    if (kept.length !== text.split("\n").length) fs.writeFileSync("/etc/hosts", kept.join("\n"));
}

let lab: Lab;
let dir: string;
let env: NodeJS.ProcessEnv;
let release: () => void = () => {};

function pulumi(args: string[], input?: string) {
    const r = spawnSync("pulumi", [...args, "--non-interactive"], { cwd: dir, env, encoding: "utf8", input: input ?? "", timeout: 600_000 });
    const out = `${r.stdout}\n${r.stderr}`;
    console.log(`[e2e] pulumi ${args.join(" ")} (exit ${r.status}):\n${out.split("\n").slice(-40).join("\n")}`);
    return { status: r.status, out };
}

/** Key files of the lab's key, which is all that this test's stack uses. */
function keyFiles(): string[] {
    const content = fs.readFileSync(lab.privateKeyPath, "utf8");
    const want = content.endsWith("\n") ? content : `${content}\n`;
    if (!fs.existsSync(KEY_DIR)) return [];
    return fs
        .readdirSync(KEY_DIR)
        .filter((f) => /^id-[0-9a-f]{16}$/.test(f))
        .filter((f) => {
            try {
                return fs.readFileSync(path.join(KEY_DIR, f), "utf8") === want;
            } catch {
                return false;
            }
        });
}

/** Waits up to 5 s (the reaper polls every 250 ms) for the lab key's file to be gone. */
async function noKeyFileWithin5s(): Promise<boolean> {
    return (await poll(() => keyFiles().length === 0, (gone) => gone, { withinMs: 5000, everyMs: 100 })).ok;
}

const containersOn = (i: number) => docker(lab.hosts[i]!, ["ps", "-aq", "--filter", "name=overlay-"]).stdout.trim();

beforeAll(async () => {
    release = await holdLabSession();
    lab = await phase("cli: lab set-up", () => freshLab(3));
    untagHosts();
    fs.appendFileSync("/etc/hosts", lab.hosts.slice(0, 2).map((h) => `${h.address} ${h.name} ${HOSTS_TAG}\n`).join(""));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-e2e-"));
    for (const f of ["Pulumi.yaml", "index.ts", "program.ts", "tsconfig.json", "package.json"]) fs.copyFileSync(path.join(REPO, f), path.join(dir, f));
    fs.cpSync(path.join(REPO, "components"), path.join(dir, "components"), { recursive: true });
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
    fs.mkdirSync(path.join(dir, "state"));
    env = { ...process.env, PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`, PULUMI_CONFIG_PASSPHRASE: "cli-e2e", PULUMI_SKIP_UPDATE_CHECK: "true", PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true" };
    expect(pulumi(["stack", "init", "cli"]).status).toBe(0);
    const stackFile = path.join(dir, "Pulumi.cli.yaml");
    const salt = fs.readFileSync(stackFile, "utf8");
    fs.writeFileSync(
        stackFile,
        salt +
            stringify({
                config: {
                    "docker-overlay:mode": "swarm",
                    "docker-overlay:hosts": lab.hosts.slice(0, 2).map((h) => ({ name: h.name, address: h.name, hostKey: h.hostKey })),
                    "docker-overlay:network": { name: "cli_overlay", subnet: "10.221.0.0/24" },
                    "docker-overlay:services": [{ name: "web", host: "lab2", image: "dolab/busybox:1", pull: false, command: ["httpd", "-f", "-p", "80", "-h", "/"] }],
                    "docker-overlay:connectivity": { image: "dolab/busybox:1", pull: false },
                },
            }),
    );
    expect(pulumi(["config", "set", "--secret", "sshPrivateKey"], fs.readFileSync(lab.privateKeyPath, "utf8")).status).toBe(0);
}, 1800_000 + 900_000);

afterAll(() => {
    untagHosts();
    if (dir) {
        pulumi(["destroy", "--yes", "--run-program"]);
        fs.rmSync(dir, { recursive: true, force: true });
    }
    printTimings("cli");
    release();
}, 900_000);

describe("the SSH key file through the CLI", () => {
    it("`pulumi up` builds the stack and leaves no key file once it returns", async () => {
        expect(keyFiles()).toEqual([]);
        const up = await phase("cli: pulumi up", () => pulumi(["up", "--yes", "--skip-preview"]));
        expect(up.status, up.out).toBe(0);
        expect(containersOn(1)).not.toBe("");
        // The hosts, given by name, were routed to by address on the hosts themselves.
        expect(up.out).toMatch(/preflight checked 2 host\(s\) in [\d.]+s, no problems \(lab1: .*eth0 10\.210\.0\.11/);
        expect(await noKeyFileWithin5s()).toBe(true);
    }, 900_000);

    it("plain `pulumi destroy` cannot reach the hosts without the key and deletes nothing", async () => {
        const before = [containersOn(0), containersOn(1)];
        const r = await phase("cli: pulumi destroy without --run-program", () => pulumi(["destroy", "--yes", "--skip-preview"]));
        expect(r.status).not.toBe(0);
        expect(r.out).toMatch(/Identity file .*docker-overlay-\d+\/id-[0-9a-f]{16} not accessible|Permission denied \(publickey\)/);
        expect([containersOn(0), containersOn(1)]).toEqual(before);
        expect(await noKeyFileWithin5s()).toBe(true);
    }, 900_000);

    it("`pulumi destroy --run-program` takes everything down and leaves no key file", async () => {
        const r = await phase("cli: pulumi destroy --run-program", () => pulumi(["destroy", "--yes", "--skip-preview", "--run-program"]));
        expect(r.status, r.out).toBe(0);
        expect([containersOn(0), containersOn(1)]).toEqual(["", ""]);
        expect(await noKeyFileWithin5s()).toBe(true);
    }, 900_000);
});
