/**
 * The README's first command, as a user runs it: `npm run lab` (toolchain and packages already
 * in place from `npm test`'s set-up, so only the compile, the lab and the stack's `up` run), then
 * `npm run lab:down`. It proves the command works from a clone and prints what the README says:
 * each service's overlay address, the connectivity report, the topology picture (Mermaid, and an
 * SVG drawn by Graphviz) with every pair of hosts checked ok; and that lab:down destroys the
 * stack and removes the lab. The stack's state goes to a temporary DOCKER_OVERLAY_WORK.
 *
 * Run as root: npx vitest run test/lab/npm-run-lab.test.ts   (about 2-3 minutes)
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { holdLabSession } from "../../scripts/labStack";

const ROOT = path.resolve(__dirname, "../..");
const LAB_JSON = "/var/lib/docker-overlay-lab/lab.json";

function npm(script: string, env: NodeJS.ProcessEnv) {
    const t0 = Date.now();
    const r = spawnSync("npm", ["run", script], { cwd: ROOT, env, encoding: "utf8", timeout: 900_000, maxBuffer: 64 * 1024 * 1024 });
    if (r.error) throw r.error;
    console.log(`npm run ${script}: exit ${r.status} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

describe.skipIf(process.getuid?.() !== 0)("npm run lab and npm run lab:down (the README's quick start)", () => {
    let work: string;
    let env: NodeJS.ProcessEnv;
    let release: () => void = () => undefined;
    let up: { code: number; out: string };

    beforeAll(async () => {
        release = await holdLabSession();
        work = fs.mkdtempSync(path.join(os.tmpdir(), "docker-overlay-npm-run-lab-"));
        // The toolchain's PATH as the user's shell has it after `source toolchain/env.sh` is what
        // the test runner already has; the work dir keeps the stack away from the user's own.
        env = { ...process.env, DOCKER_OVERLAY_WORK: work, CI: "true" };
        up = npm("lab", env);
    }, 1_000_000);

    afterAll(() => {
        // Whatever happened, leave no lab and no stack behind (lab:down is idempotent).
        if (fs.existsSync(LAB_JSON)) npm("lab:down", env);
        release();
        fs.rmSync(work, { recursive: true, force: true });
    }, 1_000_000);

    it("npm run lab exits 0 with the service addresses and the connectivity report", () => {
        expect(up.code, up.out.slice(-3000)).toBe(0);
        expect(up.out).toMatch(/"serviceAddresses":\s*\{[^}]*"service-a":\s*"10\.220\.0\.\d+"/);
        expect(up.out).toContain('"connectivityReport"');
        expect(up.out).not.toMatch(/"byAddress":\s*false|"byName":\s*false/);
    });

    it("prints the topology with every pair of hosts ok, and writes it as Mermaid and SVG", () => {
        for (const pair of ["host_lab1 <-.->|ok| host_lab2", "host_lab1 <-.->|ok| host_lab3", "host_lab2 <-.->|ok| host_lab3"]) expect(up.out).toContain(pair);
        const mmd = path.join(work, "lab", "topology.mmd");
        const svg = path.join(work, "lab", "topology.svg");
        expect(fs.readFileSync(mmd, "utf8")).toContain("flowchart LR");
        const drawn = fs.readFileSync(svg, "utf8");
        expect(drawn).toContain("<svg");
        // Graphviz writes a hyphen in a label as &#45;.
        for (const word of [/lab1: 10\.210\.0\.11/, /lab2/, /lab3/, /service(-|&#45;)a, a/, /lab_overlay/, />ok</]) expect(drawn).toMatch(word);
    });

    it("npm run lab:down destroys the stack and removes the lab", () => {
        const down = npm("lab:down", env);
        expect(down.code, down.out.slice(-3000)).toBe(0);
        expect(fs.existsSync(LAB_JSON)).toBe(false);
        expect(fs.existsSync(path.join(work, "lab"))).toBe(false);
    });
});
