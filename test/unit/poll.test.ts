// The end-to-end tests' wait loop (test/e2e/poll.ts), without a lab.
import { describe, expect, it } from "vitest";
import { poll } from "../e2e/poll";

describe("poll", () => {
    it("stops at the first answer that is done, and says how many asks it took", async () => {
        const answers = [500, 503, 201, 201];
        const r = await poll(() => answers.shift()!, (s) => s < 500, { withinMs: 60_000, everyMs: 1 });
        expect(r).toMatchObject({ ok: true, value: 201, tries: 3 });
        expect(answers).toEqual([201]);
    });

    it("asks once, at once, even with no time to wait, and gives the answer back when it is not done", async () => {
        const r = await poll(async () => ({ healthy: false }), (v) => v.healthy, { withinMs: 0, everyMs: 60_000 });
        expect(r).toMatchObject({ ok: false, value: { healthy: false }, tries: 1 });
    });

    it("gives up after its time with the last answer", async () => {
        let n = 0;
        const r = await poll(() => ++n, () => false, { withinMs: 20, everyMs: 5 });
        expect(r.ok).toBe(false);
        expect(r.value).toBe(r.tries);
        expect(r.seconds).toBeGreaterThanOrEqual(0.02);
    });
});
