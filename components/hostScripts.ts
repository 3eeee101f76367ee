/**
 * Host-side bash scripts (components/host-scripts/*.sh) and the helpers that get them onto a host
 * safely: renderScript puts values into a script as single-quoted data; scriptBundle and
 * scriptCommand send it on stdin to a short, fixed command line that holds nothing of it.
 *
 * Each script starts with a header of comment lines. Lines of the form
 *
 *     # @var NAME required|optional [array]: description
 *
 * declare the variables it reads. renderScript inserts assignments right after that header,
 * so a rendered script never depends on the remote environment for a declared variable: a
 * declared variable that is not passed is `unset` (the script's own default then applies).
 * Standalone (tests, manual runs) the scripts read the same names from the environment; an
 * array variable given as an environment string is split on whitespace (never evaluated).
 */
import * as fs from "node:fs";
import * as path from "node:path";

export type ScriptName =
    | "host-facts"
    | "kv-wait"
    | "daemon-config-backup"
    | "daemon-config-apply"
    | "daemon-config-restore"
    | "daemon-env"
    | "firewall"
    | "swarm-init"
    | "swarm-tokens"
    | "swarm-join"
    | "swarm-leave"
    | "swarm-prune"
    | "connectivity-check"
    | "overlay-rejoin";

export type ScriptVars = Readonly<Record<string, string | number | readonly string[]>>;

/** Every script name, in a stable order (tests and the shellcheck run iterate over it). */
export const SCRIPT_NAMES: readonly ScriptName[] = [
    "host-facts",
    "kv-wait",
    "daemon-config-backup",
    "daemon-config-apply",
    "daemon-config-restore",
    "daemon-env",
    "firewall",
    "swarm-init",
    "swarm-tokens",
    "swarm-join",
    "swarm-leave",
    "swarm-prune",
    "connectivity-check",
    "overlay-rejoin",
];

/** One `# @var` line of a script's header. */
export interface ScriptVarSpec {
    readonly name: string;
    readonly required: boolean;
    readonly array: boolean;
    readonly description: string;
}

const VAR_NAME = /^[A-Z_][A-Z0-9_]*$/;

/**
 * The variables every script accepts, so that a component can pass one common set to all of
 * them: a script that does not declare one of these ignores it (after checking its type).
 */
export const COMMON_VARS: Readonly<Record<string, "scalar" | "array">> = {
    DOCKER: "scalar",
    DOCKER_CONFIG_DIR: "scalar",
    STATE_DIR: "scalar",
    HOST_LABEL: "scalar",
    SYSTEMD_UNIT_PATHS: "array",
};
const VAR_LINE = /^# @var ([A-Za-z0-9_]+) (required|optional)( array)?: (.+)$/;
/** With the `u` flag a surrogate pair is one code point, so this matches only lone halves. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
/** Next to this module when run from source (Pulumi's ts-node, vitest); from bin/, the source tree. */
const SCRIPTS_DIR = [path.join(__dirname, "host-scripts"), path.join(__dirname, "..", "..", "components", "host-scripts")].find((dir) =>
    fs.existsSync(path.join(dir, "host-facts.sh")),
) ?? path.join(__dirname, "host-scripts");

/** Absolute path of a script's source file (for tests and linting). */
export function scriptPath(name: ScriptName): string {
    return path.join(SCRIPTS_DIR, `${name}.sh`);
}

/**
 * A line that includes a shared helper file from components/host-scripts/lib/: when the script runs
 * from its file (tests, by hand), bash sources the file; renderScript puts the file's text in its
 * place, so what reaches a host is one self-contained script.
 */
const INCLUDE_LINE = /^source "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/(lib\/[a-z][a-z0-9-]*\.sh)" # @include$/;

/** The script's text with every `# @include` line replaced by the library it names. */
export function inlineIncludes(text: string, scriptName: string): string {
    return text
        .split("\n")
        .flatMap((line) => {
            const m = INCLUDE_LINE.exec(line);
            if (!m) return [line];
            const file = path.join(SCRIPTS_DIR, m[1]!);
            if (!fs.existsSync(file)) throw new Error(`docker-overlay: script ${scriptName} includes ${m[1]}, which does not exist in ${SCRIPTS_DIR}`);
            const lib = fs.readFileSync(file, "utf8").replace(/\n$/, "").split("\n");
            // Its shebang is only for editors and shellcheck.
            return [`# --- ${m[1]} (inlined by renderScript) ---`, ...lib.filter((l, i) => !(i === 0 && l.startsWith("#!"))), `# --- end of ${m[1]} ---`];
        })
        .join("\n");
}

/** The script's source text, unrendered. */
export function scriptSource(name: ScriptName): string {
    if (!SCRIPT_NAMES.includes(name)) {
        throw new Error(`docker-overlay: unknown script "${String(name)}"; known scripts: ${SCRIPT_NAMES.join(", ")}`);
    }
    return fs.readFileSync(scriptPath(name), "utf8");
}

/** The header comment block: the shebang and every following line that starts with `#`. */
function headerLength(lines: readonly string[]): number {
    let i = 0;
    while (i < lines.length && lines[i]!.startsWith("#")) i++;
    return i;
}

/** The `@var` lines of a header (a script's, or an included library's). */
function headerVars(text: string, file: string): ScriptVarSpec[] {
    const lines = text.split("\n");
    const specs: ScriptVarSpec[] = [];
    for (const line of lines.slice(0, headerLength(lines))) {
        if (!line.startsWith("# @var")) continue;
        const m = VAR_LINE.exec(line);
        if (!m || !VAR_NAME.test(m[1]!)) {
            throw new Error(`docker-overlay: ${file} has a malformed @var line: ${line}`);
        }
        specs.push({ name: m[1]!, required: m[2] === "required", array: m[3] !== undefined, description: m[4]! });
    }
    return specs;
}

/** The variables a script declares in its header, then those of the libraries it includes (its own declaration first). */
export function scriptVars(name: ScriptName): readonly ScriptVarSpec[] {
    const source = scriptSource(name);
    const specs = headerVars(source, `components/host-scripts/${name}.sh`);
    for (const line of source.split("\n")) {
        const m = INCLUDE_LINE.exec(line);
        if (!m) continue;
        const file = path.join(SCRIPTS_DIR, m[1]!);
        if (!fs.existsSync(file)) continue;
        for (const spec of headerVars(fs.readFileSync(file, "utf8"), `components/host-scripts/${m[1]}`)) if (!specs.some((s) => s.name === spec.name)) specs.push(spec);
    }
    return specs;
}

/** Single-quote a value for bash so it is always data, never code (handles ', newlines, $(), `, unicode). */
export function shellQuote(value: string): string {
    if (typeof value !== "string") {
        throw new Error(`docker-overlay: shellQuote expects a string, got ${typeof value}`);
    }
    if (value.includes("\0")) {
        throw new Error("docker-overlay: a value for a host script contains a NUL character, which bash cannot hold");
    }
    if (LONE_SURROGATE.test(value)) {
        throw new Error("docker-overlay: a value for a host script is not well-formed Unicode (lone surrogate); it cannot be sent as UTF-8");
    }
    // Inside single quotes bash takes every byte literally except ' itself, which is written
    // as '\'' (close, escaped quote, reopen).
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

function scalarText(name: string, scriptName: ScriptName, value: unknown): string {
    if (typeof value === "number") {
        if (!Number.isFinite(value)) {
            throw new Error(`docker-overlay: script ${scriptName}: ${name} must be a finite number, got ${value}`);
        }
        return String(value);
    }
    if (typeof value === "string") return value;
    throw new Error(`docker-overlay: script ${scriptName}: ${name} must be a string or a number, got ${Array.isArray(value) ? "an array" : typeof value}`);
}

/**
 * The script's text with `NAME='value'` (or `NAME=('a' 'b')` for arrays) lines inserted right
 * after the shebang/header, so that no value is ever evaluated by the shell. Throws a clear Error
 * if a var the script declares as required is missing, or an unknown var is passed, or a var
 * name is not [A-Z_][A-Z0-9_]*. Declared variables that are not passed are `unset`, so the
 * script's default applies whatever the remote environment holds. The COMMON_VARS are accepted
 * by every script and ignored by those that do not use them.
 */
export function renderScript(name: ScriptName, vars: ScriptVars): string {
    const specs = scriptVars(name);
    const byName = new Map(specs.map((s) => [s.name, s]));
    const given = Object.keys(vars);

    const badNames = given.filter((k) => !VAR_NAME.test(k));
    if (badNames.length > 0) {
        throw new Error(`docker-overlay: script ${name}: variable names must match [A-Z_][A-Z0-9_]*; bad: ${badNames.map((k) => JSON.stringify(k)).join(", ")}`);
    }
    for (const k of given) {
        const kind = COMMON_VARS[k];
        if (kind !== undefined && !byName.has(k) && Array.isArray(vars[k]) !== (kind === "array")) {
            throw new Error(`docker-overlay: script ${name}: ${k} must be ${kind === "array" ? "a list of strings" : "a single value"}`);
        }
    }
    const unknown = given.filter((k) => !byName.has(k) && !Object.hasOwn(COMMON_VARS, k));
    if (unknown.length > 0) {
        throw new Error(`docker-overlay: script ${name} does not declare ${unknown.join(", ")}; it accepts: ${specs.map((s) => s.name).join(", ")}`);
    }
    const missing = specs.filter((s) => s.required && vars[s.name] === undefined).map((s) => s.name);
    if (missing.length > 0) {
        throw new Error(`docker-overlay: script ${name} needs ${missing.join(", ")} (required, not given)`);
    }

    const assignments: string[] = ["# --- values inserted by docker-overlay renderScript ---"];
    for (const spec of specs) {
        const value = vars[spec.name];
        if (value === undefined) {
            assignments.push(`unset ${spec.name}`);
        } else if (spec.array) {
            if (!Array.isArray(value)) {
                throw new Error(`docker-overlay: script ${name}: ${spec.name} is an array (argv); pass a list of strings, e.g. ["systemctl", "restart", "docker"]`);
            }
            const items = (value as readonly unknown[]).map((item, i) => {
                if (typeof item !== "string") {
                    throw new Error(`docker-overlay: script ${name}: ${spec.name}[${i}] must be a string, got ${typeof item}`);
                }
                return shellQuote(item);
            });
            assignments.push(`${spec.name}=(${items.join(" ")})`);
        } else {
            if (Array.isArray(value)) {
                throw new Error(`docker-overlay: script ${name}: ${spec.name} takes one value, not a list`);
            }
            assignments.push(`${spec.name}=${shellQuote(scalarText(spec.name, name, value))}`);
        }
    }
    assignments.push("# --- end of inserted values ---");

    const lines = scriptSource(name).split("\n");
    const at = headerLength(lines);
    // The header (what the script does, its @var lines) is for people reading the file; on a host
    // only the shebang is kept. Comments go from the code (not from the inserted values, whose text
    // is data): they are half of every script's bytes, and the bytes travel in every command's
    // stdin, the state and every Check and Diff call (issue 14).
    return [lines[0]!, `# docker-overlay: ${name}.sh, without its comments (they are in components/host-scripts/${name}.sh)`, ...assignments, withoutComments(inlineIncludes(lines.slice(at).join("\n"), name))].join("\n");
}

/**
 * The code without its whole-line comments (`#` after optional blanks); the rest, blank lines
 * included, as it was. Only for our scripts' code, which has no here-document and no quoted text
 * spanning a line that starts with `#` (test/unit/scripts.test.ts checks both): a comment line
 * inside an awk program in quotes goes too, and awk reads it as a comment as well.
 */
export function withoutComments(code: string): string {
    return code
        .split("\n")
        .filter((line) => !/^[ \t]*#/.test(line))
        .join("\n");
}

/** What a host script runs for: a resource's create, update or delete. */
export type ScriptPhase = "create" | "update" | "delete";
const PHASES: readonly ScriptPhase[] = ["create", "update", "delete"];

/**
 * How a rendered script reaches a host: on stdin, never on the command line. The command is a
 * short fixed line, the same for every script but for its phase and label:
 *
 *     bash --norc --noprofile -c '<read the PHASE line of stdin, base64 -d, eval>' docker-overlay-<label>
 *
 * so nothing a script carries (a join token, a daemon.json) is in the SSH command, in the remote
 * process list, or in the error a failed command prints (pulumi-command quotes the command and its
 * output, never its stdin). The script is evaluated in that one bash process, kept only in its
 * memory. A delete runs with the stdin of the last create or update (pulumi-command keeps it in the
 * state), so one stdin carries every phase's script: see {@link scriptBundle}.
 *
 * `--norc`: bash sources ~/.bashrc even for `-c` when it thinks sshd started it; a .bashrc with
 * `set -x`, aliases or slow set-up must not run around our scripts. The label (the script's $0,
 * used in bash's own messages) keeps only [A-Za-z0-9._-].
 */
export function scriptCommand(phase: ScriptPhase, label: string): string {
    if (!PHASES.includes(phase)) throw new Error(`docker-overlay: scriptCommand: unknown phase ${JSON.stringify(phase)}`);
    const safeLabel = label.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 100) || "script";
    const read =
        `s=$(sed -n "s/^${phase} //p" | base64 -d) || exit 97; ` +
        `[ -n "$s" ] || { echo "docker-overlay: no ${phase} script on stdin" >&2; exit 97; }; ` +
        `eval "$s"`;
    return `bash --norc --noprofile -c '${read}' docker-overlay-${safeLabel}`;
}

/**
 * The stdin for {@link scriptCommand}: one line per phase, `<phase> <base64 of the script>`.
 * Throws for a script that is not well-formed Unicode (it could not travel as UTF-8).
 */
export function scriptBundle(scripts: Readonly<Partial<Record<ScriptPhase, string>>>): string {
    const lines: string[] = [];
    for (const phase of PHASES) {
        const script = scripts[phase];
        if (script === undefined) continue;
        if (LONE_SURROGATE.test(script)) throw new Error(`docker-overlay: the ${phase} script is not well-formed Unicode`);
        lines.push(`${phase} ${Buffer.from(script, "utf8").toString("base64")}`);
    }
    if (lines.length === 0) throw new Error("docker-overlay: scriptBundle needs at least one script");
    return lines.join("\n") + "\n";
}

/** The script of PHASE in a bundle, decoded (tests, and to show what a host received). */
export function scriptFromBundle(bundle: string, phase: ScriptPhase): string | undefined {
    const line = bundle.split("\n").find((l) => l.startsWith(`${phase} `));
    return line === undefined ? undefined : Buffer.from(line.slice(phase.length + 1), "base64").toString("utf8");
}
