// The Go unit tests of our own provider plugins (toolchain/go/command, consul and their shared
// propkit), run with `go test -json` and reported here one vitest test per Go test, so that
// `npm test` counts and shows them. A module whose tests do not build fails as one test.
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const GO_DIR = path.join(__dirname, "..", "..", "toolchain", "go");
const MODULES = ["command", "consul", "propkit"];

interface GoEvent {
    Action: string;
    Package?: string;
    Test?: string;
    Output?: string;
}

function goTest(module: string): { events: GoEvent[]; status: number | null; stderr: string } {
    const r = spawnSync("go", ["test", "-json", "-mod=readonly", "-count=1", "./..."], {
        cwd: path.join(GO_DIR, module),
        encoding: "utf8",
        timeout: 600_000,
        maxBuffer: 64 * 1024 * 1024,
    });
    const events = (r.stdout ?? "")
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as GoEvent);
    return { events, status: r.status, stderr: r.stderr ?? "" };
}

for (const module of MODULES) {
    describe(`go test ./... in toolchain/go/${module}`, () => {
        const run = goTest(module);
        // Top-level tests only (subtests pass or fail with their parent).
        const results = run.events.filter((e) => e.Test && !e.Test.includes("/") && (e.Action === "pass" || e.Action === "fail"));
        const output = (test: string) =>
            run.events
                .filter((e) => e.Test === test && e.Output)
                .map((e) => e.Output)
                .join("");

        it("builds and runs (exit 0, or every failure listed below)", () => {
            const buildFailed = run.events.some((e) => e.Action === "build-fail") || (run.status !== 0 && !results.some((r) => r.Action === "fail"));
            expect(buildFailed, `go test did not run: ${run.stderr}${run.events.map((e) => e.Output ?? "").join("")}`.slice(0, 4000)).toBe(false);
        });

        for (const r of results) {
            it(r.Test!, () => {
                expect(r.Action, output(r.Test!)).toBe("pass");
            });
        }
    });
}
