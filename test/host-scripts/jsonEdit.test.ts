// lib/json-edit.sh (json_take_keys), the only JSON editing a host does (destroy after a hand edit
// of daemon.json), run by bash and the host's awk (mawk here; POSIX awk only) on generated files:
// whatever the formatting, the result parses to the edit without our keys plus the original's
// values for them, and every member that stays is there byte for byte. JSON.parse is the oracle.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { scriptPath } from "../../components/hostScripts";

const LIB = path.join(path.dirname(scriptPath("host-facts")), "lib", "json-edit.sh");
const OURS = ["cluster-store", "cluster-advertise", "cluster-store-opts"];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "json-edit-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function take(current: string, original: string | undefined): { code: number | null; out: string; err: string } {
    fs.writeFileSync(path.join(dir, "cur"), current);
    if (original !== undefined) fs.writeFileSync(path.join(dir, "orig"), original);
    const r = spawnSync("bash", ["-c", `source "$0"; json_take_keys "$1" "$2" ${OURS.join(" ")}`, LIB, path.join(dir, "cur"), original === undefined ? "" : path.join(dir, "orig")], { encoding: "utf8" });
    return { code: r.status, out: r.stdout, err: r.stderr };
}

const json = fc.letrec((tie) => ({
    value: fc.oneof(
        { depthSize: "small" },
        fc.string({ unit: "grapheme" }),
        fc.integer(),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie("value"), { maxLength: 3 }),
        fc.dictionary(fc.string({ unit: "grapheme", maxLength: 6 }), tie("value"), { maxKeys: 3 }),
    ),
})).value;
const key = fc.oneof(fc.constantFrom(...OURS), fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 }));
const members = fc.uniqueArray(fc.tuple(key, json), { selector: ([k]) => k, maxLength: 6 });
const indent = fc.constantFrom(undefined, 2, 4, "\t");

function render(entries: [string, unknown][], ind: string | number | undefined): string {
    const body = entries.map(([k, v]) => `${JSON.stringify(k)}:${ind === undefined ? "" : " "}${JSON.stringify(v, null, ind)}`);
    if (ind === undefined) return `{${body.join(",")}}`;
    const pad = typeof ind === "number" ? " ".repeat(ind) : ind;
    return body.length === 0 ? "{}\n" : `{\n${body.map((b) => pad + b.replace(/\n/g, `\n${pad}`)).join(",\n")}\n}\n`;
}

describe("json_take_keys", () => {
    it("gives the edit without our keys plus the original's values for them, keeping every other member's bytes", () => {
        fc.assert(
            fc.property(members, indent, fc.option(members, { nil: undefined }), indent, (cur, ind, orig, ind2) => {
                const current = render(cur, ind);
                const original = orig === undefined ? undefined : render(orig, ind2);
                const r = take(current, original);
                const kept = cur.filter(([k]) => !OURS.includes(k));
                const back = (orig ?? []).filter(([k]) => OURS.includes(k));
                expect(r.err).toBe("");
                expect(r.code).toBe(kept.length + back.length === 0 ? 3 : 0);
                expect(JSON.parse(r.out)).toEqual(Object.fromEntries([...kept, ...back]));
                for (const [k, v] of kept) expect(r.out).toContain(`${JSON.stringify(k)}:${ind === undefined ? "" : " "}${JSON.stringify(v, null, ind).split("\n")[0]}`);
            }),
            { numRuns: 150 },
        );
    });

    it("refuses what is not one JSON object, saying why", () => {
        for (const bad of ["[1]", '{"a": 1,}', '{"a": 1} {"b": 2}', '{"a" 1}', '{"a": 1', "", '{"a": [1}']) {
            const r = take(bad, undefined);
            expect(r.code, bad).toBe(1);
            expect(r.err, bad).not.toBe("");
        }
    });
});
