/**
 * shellcheck over every host script and test fixture. Never skipped: when shellcheck is missing
 * it is installed with apt-get (as root), and the test fails if that does not work.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { SCRIPT_NAMES, scriptPath } from "../../components/hostScripts";
import { FIXTURES } from "./harness";

function hasShellcheck(): boolean {
    return spawnSync("shellcheck", ["--version"], { stdio: "ignore" }).status === 0;
}

beforeAll(() => {
    if (hasShellcheck()) return;
    const install = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", "shellcheck"], {
        encoding: "utf8",
        env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    if (!hasShellcheck()) {
        throw new Error(`shellcheck is missing and apt-get install shellcheck did not provide it (exit ${install.status}): ${install.stderr ?? install.error}`);
    }
}, 300_000);

const libDir = path.join(path.dirname(scriptPath("host-facts")), "lib");
const files = [
    ...SCRIPT_NAMES.map((n) => scriptPath(n)),
    ...fs.readdirSync(libDir).map((f) => path.join(libDir, f)),
    ...fs.readdirSync(FIXTURES).map((f) => path.join(FIXTURES, f)),
];

describe("shellcheck", () => {
    it("covers every host script, its shared libraries and every fixture", () => {
        expect(files.length).toBe(SCRIPT_NAMES.length + 6 + 4);
    });

    it.each(files.map((f) => [path.relative(path.join(__dirname, "..", ".."), f), f]))("%s is clean at every severity", (_rel, file) => {
        const r = spawnSync("shellcheck", ["--shell=bash", "--severity=style", "--external-sources", file], { encoding: "utf8" });
        expect(r.stdout + r.stderr).toBe("");
        expect(r.status).toBe(0);
    });

    // The project's own tooling: npm scripts, the lab, the bench, the toolchain, CI. Checked from
    // the repository's root, where their `# shellcheck source=` paths start.
    const repo = path.join(__dirname, "..", "..");
    const tooling = [
        ...["scripts", "bench", "toolchain"].flatMap((d) => fs.readdirSync(path.join(repo, d)).filter((f) => f.endsWith(".sh")).map((f) => `${d}/${f}`)),
        "lab/lab.sh",
        "lab/host-init.sh",
        "lab/dolab-dockerd",
        ".ci/run",
    ];
    it("covers the tooling scripts too", () => {
        expect(tooling).toEqual(expect.arrayContaining(["scripts/prepare.sh", "scripts/test.sh", "bench/run.sh", "toolchain/install.sh", ".ci/run"]));
    });
    it.each(tooling)("%s is clean at every severity", (rel) => {
        const r = spawnSync("shellcheck", ["--shell=bash", "--severity=style", "--external-sources", rel], { encoding: "utf8", cwd: repo });
        expect(r.stdout + r.stderr).toBe("");
        expect(r.status).toBe(0);
    });

    it("would catch a problem (the check is live)", () => {
        const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "docker-overlay-sc-")), "bad.sh");
        fs.writeFileSync(bad, "#!/usr/bin/env bash\necho $1\n");
        const r = spawnSync("shellcheck", [bad], { encoding: "utf8" });
        expect(r.status).not.toBe(0);
        expect(r.stdout).toContain("SC2086");
        fs.rmSync(path.dirname(bad), { recursive: true });
    });

    it("every fixture is executable (the scripts run them as commands)", () => {
        for (const f of fs.readdirSync(FIXTURES)) {
            expect(fs.statSync(path.join(FIXTURES, f)).mode & 0o111, f).toBe(0o111);
        }
        // and committed as such
        const staged = execFileSync("git", ["ls-files", "-s", "--", FIXTURES], { encoding: "utf8", cwd: path.join(__dirname, "..", "..") }).trim().split("\n");
        expect(staged).toHaveLength(fs.readdirSync(FIXTURES).length);
        for (const line of staged) expect(line).toMatch(/^100755 /);
    });
});
