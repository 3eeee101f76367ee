// The pull-request preview workflow: linted by actionlint (installed by scripts/test.sh), and
// checked for what the README promises it does.
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const WORKFLOW = path.join(__dirname, "..", "..", ".github", "workflows", "preview.yml");
const cache = process.env.DOCKER_OVERLAY_CACHE ?? path.join(os.homedir(), ".cache", "docker-overlay");
const ACTIONLINT = process.env.ACTIONLINT ?? path.join(cache, "bin", "actionlint");

describe("the preview workflow", () => {
    it("passes actionlint", () => {
        expect(fs.existsSync(ACTIONLINT), `actionlint not found at ${ACTIONLINT}: run npm test (scripts/test.sh installs it)`).toBe(true);
        const out = spawnSync(ACTIONLINT, ["-no-color", WORKFLOW], { encoding: "utf8" });
        expect(out.stdout + out.stderr).toBe("");
        expect(out.status).toBe(0);
    });

    it("is one that actionlint can fail: a broken copy is refused", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wf-"));
        const broken = path.join(dir, "broken.yml");
        fs.writeFileSync(broken, fs.readFileSync(WORKFLOW, "utf8").replace("runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n    timeout-minutes: soon"));
        const out = spawnSync(ACTIONLINT, ["-no-color", broken], { encoding: "utf8" });
        expect(out.status).not.toBe(0);
        expect(out.stdout).toMatch(/timeout-minutes/);
    });

    it("previews the chosen stack on pull requests with Pulumi's action and posts the result", () => {
        const wf = parse(fs.readFileSync(WORKFLOW, "utf8"));
        expect(Object.keys(wf.on)).toEqual(["pull_request"]);
        expect(wf.permissions["pull-requests"]).toBe("write");
        const steps = wf.jobs.preview.steps as { uses?: string; with?: Record<string, unknown> }[];
        const pulumi = steps.find((s) => s.uses?.startsWith("pulumi/actions@"));
        expect(pulumi?.with).toMatchObject({ command: "preview", "comment-on-pr": true, "stack-name": "${{ vars.PULUMI_STACK || 'dev' }}" });
        const node = steps.find((s) => s.uses?.startsWith("actions/setup-node@"));
        expect(node?.with?.["node-version"]).toBe(22);
    });

    it("installs packages the way the README does (no install scripts)", () => {
        const text = fs.readFileSync(WORKFLOW, "utf8");
        expect(text).toContain("npm ci --ignore-scripts");
        expect(execFileSync("git", ["ls-files", "package-lock.json"], { cwd: path.join(__dirname, "..", ".."), encoding: "utf8" }).trim()).toBe("package-lock.json");
    });
});
