/**
 * Merging docker-overlay's cluster options into a host's existing /etc/docker/daemon.json.
 *
 * Pure (no Pulumi): the component reads the original file with the daemon-config-backup script,
 * calls mergeDaemonJson, and hands the result to daemon-config-apply.
 *
 * The file is parsed with a small parser of our own rather than JSON.parse so that what we do
 * not own comes back exactly as the user wrote it: keys keep their textual order (JSON.parse
 * moves integer-like keys such as "10" to the front), numbers keep their digits (JSON.parse
 * rounds 12345678901234567890), and duplicate keys are kept rather than silently merged.
 */

export interface ClusterOptions {
    /** e.g. `etcd://10.210.0.11:2379` or `consul://10.210.0.11:8500`. */
    clusterStore: string;
    /** e.g. `eth0:2376` or `10.210.0.12:2376`. */
    clusterAdvertise: string;
    /** Written as `cluster-store-opts` when given; removed from the file when not given. */
    clusterStoreOpts?: Record<string, string>;
}

export class DaemonJsonError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "DaemonJsonError";
    }
}

/** The daemon.json keys docker-overlay owns. Everything else in the file is left as it is. */
export const CLUSTER_KEYS: readonly string[] = ["cluster-store", "cluster-advertise", "cluster-store-opts"];

const DAEMON_JSON = "/etc/docker/daemon.json";

type JsonValue =
    | { kind: "object"; entries: [string, JsonValue][] }
    | { kind: "array"; items: JsonValue[] }
    | { kind: "string"; value: string }
    | { kind: "number"; raw: string }
    | { kind: "literal"; raw: "true" | "false" | "null" };

class ParseError extends Error {}

/** A strict RFC 8259 parser that keeps key order, duplicate keys and number text. */
class Parser {
    private pos = 0;
    constructor(private readonly text: string) {}

    parseDocument(): JsonValue {
        this.ws();
        const value = this.value(0);
        this.ws();
        if (this.pos < this.text.length) this.fail("unexpected text after the end of the JSON value");
        return value;
    }

    private fail(what: string): never {
        const before = this.text.slice(0, this.pos);
        const line = before.split("\n").length;
        const column = this.pos - before.lastIndexOf("\n");
        throw new ParseError(`${what} at line ${line} column ${column}`);
    }

    private ws(): void {
        while (this.pos < this.text.length && " \t\n\r".includes(this.text[this.pos]!)) this.pos++;
    }

    private value(depth: number): JsonValue {
        if (depth > 512) this.fail("nesting too deep");
        const c = this.text[this.pos];
        if (c === "{") return this.object(depth);
        if (c === "[") return this.array(depth);
        if (c === '"') return { kind: "string", value: this.string() };
        if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return this.number();
        for (const raw of ["true", "false", "null"] as const) {
            if (this.text.startsWith(raw, this.pos)) {
                this.pos += raw.length;
                return { kind: "literal", raw };
            }
        }
        this.fail(c === undefined ? "unexpected end of file" : `unexpected character ${JSON.stringify(c)}`);
    }

    private object(depth: number): JsonValue {
        this.pos++; // {
        const entries: [string, JsonValue][] = [];
        this.ws();
        if (this.text[this.pos] === "}") {
            this.pos++;
            return { kind: "object", entries };
        }
        for (;;) {
            this.ws();
            if (this.text[this.pos] !== '"') this.fail("expected a quoted key");
            const key = this.string();
            this.ws();
            if (this.text[this.pos] !== ":") this.fail(`expected ':' after key ${JSON.stringify(key)}`);
            this.pos++;
            this.ws();
            entries.push([key, this.value(depth + 1)]);
            this.ws();
            const c = this.text[this.pos];
            if (c === ",") {
                this.pos++;
                continue;
            }
            if (c === "}") {
                this.pos++;
                return { kind: "object", entries };
            }
            this.fail("expected ',' or '}' in object");
        }
    }

    private array(depth: number): JsonValue {
        this.pos++; // [
        const items: JsonValue[] = [];
        this.ws();
        if (this.text[this.pos] === "]") {
            this.pos++;
            return { kind: "array", items };
        }
        for (;;) {
            this.ws();
            items.push(this.value(depth + 1));
            this.ws();
            const c = this.text[this.pos];
            if (c === ",") {
                this.pos++;
                continue;
            }
            if (c === "]") {
                this.pos++;
                return { kind: "array", items };
            }
            this.fail("expected ',' or ']' in array");
        }
    }

    private string(): string {
        const start = this.pos;
        this.pos++; // opening quote
        for (;;) {
            const c = this.text[this.pos];
            if (c === undefined) this.fail("unterminated string");
            if (c === '"') break;
            if (c === "\\") {
                const e = this.text[this.pos + 1];
                if (e === "u") {
                    if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.pos + 2, this.pos + 6))) this.fail("bad \\u escape");
                    this.pos += 6;
                } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
                    this.pos += 2;
                } else {
                    this.fail("bad escape in string");
                }
                continue;
            }
            if (c < " ") this.fail("control character in string (escape it)");
            this.pos++;
        }
        this.pos++; // closing quote
        // The slice is a valid JSON string literal now; JSON.parse decodes its escapes.
        return JSON.parse(this.text.slice(start, this.pos)) as string;
    }

    private number(): JsonValue {
        const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.text.slice(this.pos));
        if (!m) this.fail("bad number");
        this.pos += m[0].length;
        return { kind: "number", raw: m[0] };
    }
}

/** Serialise like JSON.stringify(value, null, 2), but from our tree. */
function serialize(value: JsonValue, indent: string): string {
    const inner = indent + "  ";
    switch (value.kind) {
        case "object":
            if (value.entries.length === 0) return "{}";
            return `{\n${value.entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${serialize(v, inner)}`).join(",\n")}\n${indent}}`;
        case "array":
            if (value.items.length === 0) return "[]";
            return `[\n${value.items.map((v) => `${inner}${serialize(v, inner)}`).join(",\n")}\n${indent}]`;
        case "string":
            return JSON.stringify(value.value);
        case "number":
        case "literal":
            return value.raw;
    }
}

function str(value: string): JsonValue {
    return { kind: "string", value };
}

function checkOptions(options: ClusterOptions, hostLabel: string): void {
    const problems: string[] = [];
    if (!/^(consul|etcd):\/\/\S+$/.test(options.clusterStore ?? "")) {
        problems.push(`cluster-store must look like etcd://HOST:PORT or consul://HOST:PORT, got ${JSON.stringify(options.clusterStore)}`);
    }
    if (!/^\S+:[0-9]+$/.test(options.clusterAdvertise ?? "")) {
        problems.push(`cluster-advertise must be INTERFACE:PORT or ADDRESS:PORT, got ${JSON.stringify(options.clusterAdvertise)}`);
    }
    for (const [k, v] of Object.entries(options.clusterStoreOpts ?? {})) {
        if (typeof v !== "string") problems.push(`cluster-store-opts.${k} must be a string`);
    }
    if (problems.length > 0) {
        throw new DaemonJsonError(`docker-overlay: ${hostLabel}: bad cluster options for ${DAEMON_JSON}: ${problems.join("; ")}`);
    }
}

/**
 * Parse the original file content (undefined = no file, "" or whitespace = empty file) and return
 * the new file content: every other key untouched and in its original order, cluster-store /
 * cluster-advertise (/ cluster-store-opts) set or replaced, 2-space indented JSON plus a trailing
 * newline. Throws DaemonJsonError naming the host label and the JSON error when the original is
 * not valid JSON or not a JSON object, telling the user to fix /etc/docker/daemon.json by hand.
 *
 * Our keys keep the position they had in the original (the first one, if a key appears twice;
 * later duplicates are dropped) and are appended at the end otherwise. `cluster-store-opts` is
 * removed when `clusterStoreOpts` is not given: options meant for another store (TLS files, say)
 * must not be applied to ours.
 */
export function mergeDaemonJson(original: string | undefined, options: ClusterOptions, hostLabel: string): string {
    checkOptions(options, hostLabel);

    let root: JsonValue = { kind: "object", entries: [] };
    if (original !== undefined && original.trim() !== "") {
        try {
            root = new Parser(original).parseDocument();
        } catch (err) {
            if (!(err instanceof ParseError)) throw err;
            throw new DaemonJsonError(
                `docker-overlay: ${hostLabel}: ${DAEMON_JSON} is not valid JSON (${err.message}). ` +
                    `Docker itself would refuse to start with it. Fix ${DAEMON_JSON} on ${hostLabel} by hand, then run pulumi up again.`,
            );
        }
        if (root.kind !== "object") {
            const what = root.kind === "literal" ? root.raw : `a JSON ${root.kind}`;
            throw new DaemonJsonError(
                `docker-overlay: ${hostLabel}: ${DAEMON_JSON} holds ${what}, not a JSON object ({...}). ` +
                    `Fix ${DAEMON_JSON} on ${hostLabel} by hand (an empty file or {} is fine), then run pulumi up again.`,
            );
        }
    }

    const ours = new Map<string, JsonValue>([
        ["cluster-store", str(options.clusterStore)],
        ["cluster-advertise", str(options.clusterAdvertise)],
    ]);
    if (options.clusterStoreOpts !== undefined) {
        ours.set("cluster-store-opts", {
            kind: "object",
            entries: Object.entries(options.clusterStoreOpts).map(([k, v]): [string, JsonValue] => [k, str(v)]),
        });
    }

    const entries: [string, JsonValue][] = [];
    const placed = new Set<string>();
    for (const [key, value] of root.kind === "object" ? root.entries : []) {
        if (!CLUSTER_KEYS.includes(key)) {
            entries.push([key, value]);
        } else if (!placed.has(key) && ours.has(key)) {
            entries.push([key, ours.get(key)!]);
            placed.add(key);
        }
    }
    for (const [key, value] of ours) {
        if (!placed.has(key)) entries.push([key, value]);
    }
    return serialize({ kind: "object", entries }, "") + "\n";
}
