import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { inlineIncludes, renderScript, withoutComments, SCRIPT_NAMES, scriptBundle, scriptCommand, scriptFromBundle, scriptPath, scriptSource, scriptVars, shellQuote, type ScriptName } from "../../components/hostScripts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "docker-overlay-render-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const HOSTILE = [
    "",
    "'",
    "''",
    "'\\''",
    '"',
    "$(touch CANARY)",
    "`touch CANARY`",
    "${HOME}",
    "$HOME",
    "\\",
    "\\n",
    "a\nb\n",
    "\n",
    "; touch CANARY #",
    "' ; touch CANARY ; '",
    "\"$(touch CANARY)\"",
    "!!",
    "*",
    "~",
    "-e",
    "--",
    "é漢字🙂",
    "\u00a0\u2028\u2029",
    "\t\r",
    "\x01\x1f\x7f",
];

/** Strings bash can hold: no NUL, no lone surrogate (not representable in UTF-8). */
const bashString = fc.oneof(
    fc.constantFrom(...HOSTILE),
    fc.string({ unit: "binary", maxLength: 40 }),
    fc.string({ unit: "grapheme", maxLength: 40 }),
    fc.array(fc.constantFrom(...HOSTILE, "x", " "), { maxLength: 6 }).map((parts) => parts.join("")),
).filter((s) => !s.includes("\0") && !/[\uD800-\uDFFF]/u.test(s));

/** The inserted block of a rendered script, followed by `tail` instead of the script's body. */
function insertedThen(rendered: string, tail: string): string {
    const end = "# --- end of inserted values ---";
    const at = rendered.indexOf(end);
    expect(at).toBeGreaterThan(0);
    return rendered.slice(0, at + end.length) + "\n" + tail + "\n";
}

/** No HOME/.bashrc: bash sources ~/.bashrc for -c when stdin is a socket, as Node's pipes are. */
const ENV = { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8", HOME: tmp };

function runBash(script: string, cwd: string): Buffer {
    return execFileSync("bash", ["--norc", "--noprofile", "-c", script], { cwd, env: ENV });
}

const join = { MANAGER_ADDRESS: "10.210.0.11:2377", JOIN_TOKEN: "SWMTKN-1-x", ADVERTISE_ADDRESS: "10.210.0.12", ROLE: "worker" };

describe("shellQuote", () => {
    it("single-quotes and escapes single quotes", () => {
        expect(shellQuote("abc")).toBe("'abc'");
        expect(shellQuote("")).toBe("''");
        expect(shellQuote("it's")).toBe("'it'\\''s'");
        expect(shellQuote("$(x)`y`\n")).toBe("'$(x)`y`\n'");
    });

    it("refuses what bash cannot hold", () => {
        expect(() => shellQuote("a\0b")).toThrow(/NUL/);
        expect(() => shellQuote("\uD800")).toThrow(/surrogate/);
    });
});

describe("script headers", () => {
    it("every script file is a known script and the other way round", () => {
        const files = fs.readdirSync(path.dirname(scriptPath("host-facts"))).filter((f) => f.endsWith(".sh")).sort();
        expect(files).toEqual(SCRIPT_NAMES.map((n) => `${n}.sh`).sort());
    });

    it.each(SCRIPT_NAMES.map((n) => [n]))("%s: bash shebang, @var header, strict mode", (name) => {
        const text = scriptSource(name as ScriptName);
        expect(text.startsWith("#!/usr/bin/env bash\n")).toBe(true);
        expect(text).toContain("\nset -euo pipefail\n");
        const vars = scriptVars(name as ScriptName);
        for (const v of vars) {
            expect(v.name).toMatch(/^[A-Z_][A-Z0-9_]*$/);
            expect(v.description.length).toBeGreaterThan(5);
        }
        // every script names its host in messages; every one that runs docker lets tests swap it
        expect(vars.map((v) => v.name)).toContain("HOST_LABEL");
        if (text.includes('"$DOCKER"')) expect(vars.map((v) => v.name)).toContain("DOCKER");
        // no tool the contract rules out for hosts, and no eval, in any line of code
        const code = text.split("\n").filter((l) => !/^\s*#/.test(l)).join("\n");
        expect(code).not.toMatch(/\b(jq|python3?|curl|wget|nc|eval|grep|sed|awk)\b/);
    });

    it("reads the declarations, with required/optional and arrays", () => {
        expect(scriptVars("daemon-config-apply").filter((v) => v.required).map((v) => v.name)).toEqual(["CONTENT_BASE64", "EXPECT_CLUSTER_STORE", "RESTART_COMMAND"]);
        expect(scriptVars("daemon-config-apply").filter((v) => v.array).map((v) => v.name)).toEqual(["RESTART_COMMAND", "DAEMON_LOG_COMMAND", "SYSTEMD_UNIT_PATHS"]);
        expect(scriptVars("swarm-join").filter((v) => v.required).map((v) => v.name)).toEqual(["MANAGER_ADDRESS", "JOIN_TOKEN", "ADVERTISE_ADDRESS", "ROLE"]);
    });
});

describe("shared helpers (components/host-scripts/lib)", () => {
    const libDir = path.join(path.dirname(scriptPath("host-facts")), "lib");
    const libs = fs.readdirSync(libDir).filter((f) => f.endsWith(".sh"));

    it("every library is included by some script, and a rendered script holds its text instead of the include", () => {
        expect(libs.sort()).toEqual(["common.sh", "daemon.sh", "dockerd-identity.sh", "json-edit.sh", "owner.sh", "swarm-hint.sh"]);
        for (const lib of libs) {
            const users = SCRIPT_NAMES.filter((n) => scriptSource(n).includes(`/lib/${lib}" # @include`));
            expect(users.length, lib).toBeGreaterThan(0);
            const body = fs.readFileSync(path.join(libDir, lib), "utf8").split("\n").slice(2).join("\n").trim();
            for (const n of users) {
                const rendered = renderScript(n, Object.fromEntries(scriptVars(n).filter((v) => v.required).map((v) => [v.name, v.array ? ["x"] : "x"])));
                expect(rendered, n).toContain(withoutComments(body));
                expect(rendered, n).not.toMatch(/^source /m);
                expect(rendered, n).not.toMatch(/# @include$/m);
            }
        }
    });

    it("a rendered script carries no comment of the code, only its code and the shebang, and stays valid bash", () => {
        // withoutComments drops every line that starts with `#`: safe only while no script or
        // library has a here-document (whose lines are text, not code).
        for (const file of [...SCRIPT_NAMES.map(scriptPath), ...libs.map((l) => path.join(libDir, l))])
            expect(fs.readFileSync(file, "utf8"), file).not.toMatch(/<<-?\s*['"]?[A-Za-z_]+['"]?\s*$/m);
        expect(withoutComments("a\n  # c\n\n#x\nb # kept\n\techo '#'")).toBe("a\n\nb # kept\n\techo '#'");
        for (const n of SCRIPT_NAMES) {
            const vars = Object.fromEntries(scriptVars(n).filter((v) => v.required).map((v) => [v.name, v.array ? ["x"] : "x\n# a value line is data"]));
            const rendered = renderScript(n, vars);
            const lines = rendered.split("\n");
            expect(lines[0], n).toBe("#!/usr/bin/env bash");
            expect(lines[1], n).toBe(`# docker-overlay: ${n}.sh, without its comments (they are in components/host-scripts/${n}.sh)`);
            const comments = lines.slice(2).filter((l) => /^\s*#/.test(l));
            // Only the markers around the inserted values, and the values' own lines.
            expect(comments.filter((l) => !l.startsWith("# --- ") && !l.startsWith("# a value line is data'")), n).toEqual([]);
            // A value's text is kept as given, even a line of it that looks like a comment.
            if (Object.values(vars).some((v) => typeof v === "string")) expect(comments.some((l) => l.startsWith("# a value line is data")), n).toBe(true);
            expect(rendered.length, n).toBeLessThan(inlineIncludes(scriptSource(n), n).length);
            execFileSync("bash", ["-n"], { input: rendered });
        }
    });

    it("no script defines a function a library it includes already defines", () => {
        const defined = (text: string) => [...text.matchAll(/^([a-z_]+)\(\) *\{/gm)].map((m) => m[1]!);
        for (const n of SCRIPT_NAMES) {
            const own = defined(scriptSource(n));
            for (const lib of libs.filter((l) => scriptSource(n).includes(`/lib/${l}" # @include`)))
                for (const f of defined(fs.readFileSync(path.join(libDir, lib), "utf8"))) expect(own, `${n} redefines ${f} of lib/${lib}`).not.toContain(f);
        }
    });

    it("an include of a library that does not exist is an error naming it", () => {
        expect(() => inlineIncludes('echo hi\nsource "$(dirname "${BASH_SOURCE[0]}")/lib/nope.sh" # @include\n', "x")).toThrow(/x includes lib\/nope\.sh, which does not exist/);
        // Anything else is left as it is.
        expect(inlineIncludes("source ./elsewhere.sh\n", "x")).toBe("source ./elsewhere.sh\n");
    });
});

describe("renderScript", () => {

    it("inserts quoted assignments right after the header, unsets optional vars not given", () => {
        const text = renderScript("swarm-join", { ...join, ADVERTISE_ADDRESS: "it's" });
        const lines = text.split("\n");
        const headerEnd = lines.findIndex((l) => !l.startsWith("#") || l.startsWith("# --- values"));
        // The script's own variables, then those of the libraries it includes (lib/owner.sh).
        expect(lines.slice(headerEnd, headerEnd + 13)).toEqual([
            "# --- values inserted by docker-overlay renderScript ---",
            "MANAGER_ADDRESS='10.210.0.11:2377'",
            "JOIN_TOKEN='SWMTKN-1-x'",
            "ADVERTISE_ADDRESS='it'\\''s'",
            "ROLE='worker'",
            "unset DOCKER",
            "unset STATE_DIR",
            "unset HOST_LABEL",
            "unset JOIN_EPOCH",
            "unset OWNER",
            "unset LOCK_FILE",
            "unset LOCK_SECONDS",
            "# --- end of inserted values ---",
        ]);
        expect(lines[headerEnd + 13]).toBe("set -euo pipefail");
        expect(lines.slice(0, headerEnd).every((l) => l.startsWith("#"))).toBe(true);
    });

    it("writes arrays as bash arrays and numbers as text", () => {
        const text = renderScript("daemon-config-apply", {
            CONTENT_BASE64: "e30K",
            EXPECT_CLUSTER_STORE: "etcd://10.210.0.11:2379",
            RESTART_COMMAND: ["systemctl", "restart", "docker"],
            SYSTEMD_UNIT_PATHS: [],
            WAIT_SECONDS: 90,
        });
        expect(text).toContain("\nRESTART_COMMAND=('systemctl' 'restart' 'docker')\n");
        expect(text).toContain("\nSYSTEMD_UNIT_PATHS=()\n");
        expect(text).toContain("\nWAIT_SECONDS='90'\n");
        expect(text).toContain("\nunset DAEMON_LOG_COMMAND\n");
    });

    it("refuses a missing required variable, naming it", () => {
        const { ROLE: _role, JOIN_TOKEN: _token, ...rest } = join;
        expect(() => renderScript("swarm-join", rest)).toThrow("docker-overlay: script swarm-join needs JOIN_TOKEN, ROLE (required, not given)");
    });

    it("refuses an unknown variable, listing the known ones", () => {
        expect(() => renderScript("swarm-join", { ...join, TOKEN: "x" })).toThrow(/does not declare TOKEN; it accepts: MANAGER_ADDRESS, JOIN_TOKEN/);
    });

    it("accepts the common variables for every script, ignoring those a script does not use", () => {
        const common = { DOCKER: "/usr/bin/docker", DOCKER_CONFIG_DIR: "/etc/docker", STATE_DIR: "/var/lib/x", HOST_LABEL: "lab1", SYSTEMD_UNIT_PATHS: ["/etc/systemd/system/docker.service"] };
        const text = renderScript("kv-wait", { BACKEND: "etcd", KV_ADDRESS: "10.0.0.1", KV_PORT: 2379, ...common });
        expect(text).toContain("\nHOST_LABEL='lab1'\n");
        expect(text).not.toContain("STATE_DIR='");
        expect(text).not.toContain("SYSTEMD_UNIT_PATHS=(");
        expect(renderScript("daemon-config-apply", { CONTENT_BASE64: "e30K", EXPECT_CLUSTER_STORE: "etcd://a:1", RESTART_COMMAND: ["true"], ...common })).toContain(
            "\nSYSTEMD_UNIT_PATHS=('/etc/systemd/system/docker.service')\n",
        );
        expect(() => renderScript("kv-wait", { BACKEND: "etcd", KV_ADDRESS: "a", KV_PORT: 1, STATE_DIR: ["x"] })).toThrow(/STATE_DIR must be a single value/);
        expect(() => renderScript("kv-wait", { BACKEND: "etcd", KV_ADDRESS: "a", KV_PORT: 1, SYSTEMD_UNIT_PATHS: "x" })).toThrow(/SYSTEMD_UNIT_PATHS must be a list of strings/);
    });

    it.each([["role"], ["1ROLE"], ["RO-LE"], ["RO LE"], [""], ["ROLE;id"]])("refuses the badly named variable %j", (bad) => {
        expect(() => renderScript("swarm-join", { ...join, [bad]: "x" })).toThrow(/variable names must match \[A-Z_\]\[A-Z0-9_\]\*/);
    });

    it("refuses a list for a scalar and a scalar for an array", () => {
        expect(() => renderScript("swarm-join", { ...join, ROLE: ["worker"] })).toThrow(/ROLE takes one value, not a list/);
        expect(() => renderScript("daemon-config-apply", { CONTENT_BASE64: "e30K", EXPECT_CLUSTER_STORE: "etcd://a:1", RESTART_COMMAND: "systemctl restart docker" })).toThrow(
            /RESTART_COMMAND is an array \(argv\)/,
        );
        expect(() => renderScript("swarm-join", { ...join, ROLE: Number.NaN })).toThrow(/finite number/);
    });

    it("property: any value comes back from bash byte for byte and runs nothing", () => {
        const dir = fs.mkdtempSync(path.join(tmp, "scalar-"));
        fc.assert(
            fc.property(bashString, (value) => {
                const script = insertedThen(renderScript("swarm-join", { ...join, HOST_LABEL: value }), 'printf %s "$HOST_LABEL"');
                const out = runBash(script, dir);
                expect(out).toEqual(Buffer.from(value, "utf8"));
                expect(fs.readdirSync(dir)).toEqual([]);
            }),
            { numRuns: 150 },
        );
    });

    it("property: array items come back from bash one by one, byte for byte, running nothing", () => {
        const dir = fs.mkdtempSync(path.join(tmp, "array-"));
        fc.assert(
            fc.property(fc.array(bashString, { maxLength: 5 }), (items) => {
                const script = insertedThen(
                    renderScript("connectivity-check", { PROBE: "p", TARGETS: items }),
                    'for t in ${TARGETS[@]+"${TARGETS[@]}"}; do printf "%s\\0" "$t"; done; printf "%s" "${#TARGETS[@]}"',
                );
                const out = runBash(script, dir).toString("utf8");
                const expected = items.map((i) => i + "\0").join("") + String(items.length);
                expect(Buffer.from(out, "utf8")).toEqual(Buffer.from(expected, "utf8"));
                expect(fs.readdirSync(dir)).toEqual([]);
            }),
            { numRuns: 80 },
        );
    });
});

describe("scriptCommand and scriptBundle: the script on stdin, never on the command line", () => {
    const COMMAND = /^bash --norc --noprofile -c '[^']*' docker-overlay-([A-Za-z0-9._-]+)$/;

    it("is a short fixed line that holds nothing of the script, with a sanitised label", () => {
        const cmd = scriptCommand("create", "lab1 daemon'config;$(x)");
        expect(cmd).toMatch(COMMAND);
        expect(COMMAND.exec(cmd)![1]).toBe("lab1_daemon_config___x_");
        expect(cmd.length).toBeLessThan(250);
        // the same line whatever the script: nothing of it can show in `ps` or in an error
        expect(scriptCommand("delete", "x")).toBe(scriptCommand("delete", "x"));
        expect(scriptCommand("delete", "x")).not.toBe(scriptCommand("create", "x"));
    });

    it("bundles each phase on a line of its own and reads each back", () => {
        const bundle = scriptBundle({ create: "echo c\n", delete: "echo 'd'\n" });
        expect(bundle.split("\n")).toEqual([expect.stringMatching(/^create [A-Za-z0-9+/=]+$/), expect.stringMatching(/^delete [A-Za-z0-9+/=]+$/), ""]);
        expect(scriptFromBundle(bundle, "create")).toBe("echo c\n");
        expect(scriptFromBundle(bundle, "delete")).toBe("echo 'd'\n");
        expect(scriptFromBundle(bundle, "update")).toBeUndefined();
        expect(() => scriptBundle({})).toThrow(/at least one script/);
        expect(() => scriptBundle({ create: "\uD800" })).toThrow(/not well-formed Unicode/);
    });

    it("property: runs the right phase of a rendered script through sh -c and bash, with $0 the label", () => {
        const dir = fs.mkdtempSync(path.join(tmp, "remote-"));
        fc.assert(
            fc.property(bashString, fc.string({ maxLength: 20 }), fc.constantFrom("create", "update", "delete" as const), (value, label, phase) => {
                const script = (tag: string) => insertedThen(renderScript("swarm-join", { ...join, HOST_LABEL: value }), `printf "%s|%s|${tag}" "$0" "$HOST_LABEL"`);
                const stdin = scriptBundle({ create: script("create"), update: script("update"), delete: script("delete") });
                // sshd hands the command line to the login shell with -c; sh stands in for it
                const out = execFileSync("sh", ["-c", scriptCommand(phase, label)], { cwd: dir, env: ENV, input: stdin });
                const safe = label.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 100) || "script";
                expect(out).toEqual(Buffer.from(`docker-overlay-${safe}|${value}|${phase}`, "utf8"));
                expect(fs.readdirSync(dir)).toEqual([]);
            }),
            { numRuns: 80 },
        );
    });

    it("fails, saying so, when stdin has no script for the phase (an empty stdin runs nothing)", () => {
        for (const input of ["", scriptBundle({ create: "touch SHOULD_NOT_EXIST" })]) {
            const r = spawnSync("sh", ["-c", scriptCommand("delete", "x")], { input, encoding: "utf8", env: ENV, cwd: tmp });
            expect(r.status).toBe(97);
            expect(r.stderr).toBe("docker-overlay: no delete script on stdin\n");
        }
        expect(fs.existsSync(path.join(tmp, "SHOULD_NOT_EXIST"))).toBe(false);
    });

    it("keeps a script's exit status, and set -e inside the script still stops it", () => {
        const r = spawnSync("sh", ["-c", scriptCommand("create", "x")], { input: scriptBundle({ create: "set -e\nfalse\necho after\n" }), encoding: "utf8", env: ENV });
        expect(r.status).toBe(1);
        expect(r.stdout).toBe("");
        const r2 = spawnSync("sh", ["-c", scriptCommand("create", "x")], { input: scriptBundle({ create: "exit 42\n" }), encoding: "utf8", env: ENV });
        expect(r2.status).toBe(42);
    });

    it("runs a whole rendered script the same way (swarm-leave with nothing to undo)", () => {
        const state = fs.mkdtempSync(path.join(tmp, "state-"));
        const script = renderScript("swarm-leave", { MARKER: "swarm-created", STATE_DIR: state, DOCKER: "/nonexistent/docker" });
        expect(execFileSync("sh", ["-c", scriptCommand("delete", "lab1-swarm-leave")], { encoding: "utf8", env: ENV, input: scriptBundle({ delete: script }) })).toBe('{"left":false}\n');
    });
});
