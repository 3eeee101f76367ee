/**
 * Merging docker-overlay's cluster options into a host's existing /etc/docker/daemon.json.
 *
 * Pure (no Pulumi): the component reads the original file with the daemon-config-backup script,
 * calls mergeDaemonJson, and hands the result to daemon-config-apply.
 *
 * Only our keys change; every other byte of the file stays as the user wrote it (key order,
 * number digits, duplicate keys, layout). The file is parsed with `jsonc-parser` in strict mode
 * (no comments, no trailing commas: Docker refuses both) for the offsets of each property, and
 * our changes are text edits at those offsets (`applyEdits`), laid out like the neighbouring
 * properties.
 */
import { applyEdits, type Edit, type Node, parseTree, type ParseError, ParseErrorCode } from "jsonc-parser";

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

/** What each of jsonc-parser's errors means, in words for the message to the user. */
const PARSE_ERRORS: Record<ParseErrorCode, string> = {
    [ParseErrorCode.InvalidSymbol]: "unexpected character",
    [ParseErrorCode.InvalidNumberFormat]: "bad number",
    [ParseErrorCode.PropertyNameExpected]: "a property name (in double quotes) expected",
    [ParseErrorCode.ValueExpected]: "a value expected",
    [ParseErrorCode.ColonExpected]: "':' expected",
    [ParseErrorCode.CommaExpected]: "',' expected",
    [ParseErrorCode.CloseBraceExpected]: "'}' expected",
    [ParseErrorCode.CloseBracketExpected]: "']' expected",
    [ParseErrorCode.EndOfFileExpected]: "unexpected text after the end of the JSON value",
    [ParseErrorCode.InvalidCommentToken]: "a comment (JSON has none)",
    [ParseErrorCode.UnexpectedEndOfComment]: "a comment (JSON has none)",
    [ParseErrorCode.UnexpectedEndOfString]: "unterminated string",
    [ParseErrorCode.UnexpectedEndOfNumber]: "bad number",
    [ParseErrorCode.InvalidUnicode]: "bad \\u escape",
    [ParseErrorCode.InvalidEscapeCharacter]: "bad escape in a string",
    [ParseErrorCode.InvalidCharacter]: "control character in a string",
};

class ParseFailure extends Error {}

/** "line L column C" of an offset in `text` (both from 1). */
function position(text: string, offset: number): string {
    const before = text.slice(0, offset);
    return `line ${before.split("\n").length} column ${offset - before.lastIndexOf("\n")}`;
}

/** The root node of a strictly parsed document; throws ParseFailure saying what and where. */
function parseStrict(text: string): Node {
    const errors: ParseError[] = [];
    let root: Node | undefined;
    try {
        root = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
    } catch (err) {
        if (err instanceof RangeError) throw new ParseFailure("nesting too deep");
        throw err;
    }
    const first = errors[0];
    if (first) {
        let what = PARSE_ERRORS[first.error] ?? "not JSON";
        if (first.error === ParseErrorCode.InvalidSymbol) what += ` ${JSON.stringify(text[first.offset])}`;
        throw new ParseFailure(`${what} at ${position(text, first.offset)}`);
    }
    if (!root) throw new ParseFailure("unexpected end of file");
    return root;
}

/** The properties of an object node, each with its key, key node and value node. */
function properties(root: Node): { key: string; node: Node; value: Node }[] {
    return (root.children ?? []).map((node) => ({ key: node.children![0]!.value as string, node, value: node.children![1]! }));
}

/** The whitespace before `offset` on its line when only whitespace precedes it there, else undefined. */
function indentAt(text: string, offset: number): string | undefined {
    const lineStart = text.lastIndexOf("\n", offset - 1) + 1;
    const lead = text.slice(lineStart, offset);
    return lineStart > 0 && /^[ \t]*$/.test(lead) ? lead : undefined;
}

/** `value` as JSON text for a property that starts at `indent` (nested lines indented past it). */
function render(value: string | Record<string, string>, indent: string): string {
    return JSON.stringify(value, null, 2).split("\n").join(`\n${indent}`);
}

/** The edit that takes out property `i` of the object `root` (with the comma that separated it). */
function removal(root: Node, i: number): Edit {
    const props = root.children!;
    const p = props[i]!;
    if (props.length === 1) return { offset: root.offset + 1, length: root.length - 2, content: "" };
    if (i > 0) {
        const prev = props[i - 1]!;
        return { offset: prev.offset + prev.length, length: p.offset + p.length - (prev.offset + prev.length), content: "" };
    }
    return { offset: p.offset, length: props[1]!.offset - p.offset, content: "" };
}

/** The edit that adds `"key": value` after the last property of `root`, laid out like it. */
function insertion(text: string, root: Node, key: string, value: string | Record<string, string>): Edit {
    const props = root.children ?? [];
    const last = props[props.length - 1];
    if (!last) {
        // An empty object: written out like JSON.stringify(..., 2) would.
        return { offset: root.offset, length: root.length, content: `{\n  ${JSON.stringify(key)}: ${render(value, "  ")}\n}` };
    }
    const indent = indentAt(text, last.offset);
    // Between the comma and the property, and between key and value: as the last two are written.
    const prev = props[props.length - 2];
    const keyNode = last.children![0]!;
    const colon = text.slice(keyNode.offset + keyNode.length, last.children![1]!.offset);
    const gap = prev ? text.slice(prev.offset + prev.length, last.offset).replace(/^\s*,/, "") : indent !== undefined ? `\n${indent}` : colon === ":" ? "" : " ";
    return { offset: last.offset + last.length, length: 0, content: `,${gap}${JSON.stringify(key)}${colon}${render(value, indent ?? "")}` };
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
 * the new file content: every byte of what we do not own as it was, cluster-store /
 * cluster-advertise (/ cluster-store-opts) set or replaced, and a trailing newline. Throws
 * DaemonJsonError naming the host label and the JSON error when the original is not valid JSON or
 * not a JSON object, telling the user to fix /etc/docker/daemon.json by hand.
 *
 * Our keys keep the position they had in the original (the first one, if a key appears twice;
 * later duplicates are dropped) and are appended after the last property otherwise, laid out
 * like it. No file (or an empty one) gives our keys alone, 2-space indented.
 * `cluster-store-opts` is removed when `clusterStoreOpts` is not given: options meant for another
 * store (TLS files, say) must not be applied to ours.
 */
export function mergeDaemonJson(original: string | undefined, options: ClusterOptions, hostLabel: string): string {
    checkOptions(options, hostLabel);

    const ours = new Map<string, string | Record<string, string>>([
        ["cluster-store", options.clusterStore],
        ["cluster-advertise", options.clusterAdvertise],
    ]);
    if (options.clusterStoreOpts !== undefined) ours.set("cluster-store-opts", options.clusterStoreOpts);
    if (original === undefined || original.trim() === "") return JSON.stringify(Object.fromEntries(ours), null, 2) + "\n";

    let text = original;
    const parse = (): Node => {
        let root: Node;
        try {
            root = parseStrict(text);
        } catch (err) {
            if (!(err instanceof ParseFailure)) throw err;
            throw new DaemonJsonError(
                `docker-overlay: ${hostLabel}: ${DAEMON_JSON} is not valid JSON (${err.message}). ` +
                    `Docker itself would refuse to start with it. Fix ${DAEMON_JSON} on ${hostLabel} by hand, then run pulumi up again.`,
            );
        }
        if (root.type !== "object") {
            const what = root.type === "null" ? "null" : root.type === "boolean" ? String(root.value) : `a JSON ${root.type}`;
            throw new DaemonJsonError(
                `docker-overlay: ${hostLabel}: ${DAEMON_JSON} holds ${what}, not a JSON object ({...}). ` +
                    `Fix ${DAEMON_JSON} on ${hostLabel} by hand (an empty file or {} is fine), then run pulumi up again.`,
            );
        }
        return root;
    };
    // One edit at a time, parsing again after each: the file is small, and every offset is fresh.
    const edit = (e: Edit) => {
        text = applyEdits(text, [e]);
    };

    // Take out what must go: later duplicates of our keys, and cluster-store-opts when not ours.
    for (;;) {
        const root = parse();
        const seen = new Set<string>();
        const drop = properties(root).findIndex(({ key }) => {
            if (!CLUSTER_KEYS.includes(key)) return false;
            if (seen.has(key) || !ours.has(key)) return true;
            seen.add(key);
            return false;
        });
        if (drop < 0) break;
        edit(removal(root, drop));
    }
    // Ours where they are; the missing ones after the last property.
    for (const [key, value] of ours) {
        const root = parse();
        const at = properties(root).find((p) => p.key === key);
        if (!at) {
            edit(insertion(text, root, key, value));
        } else if (JSON.stringify(at.value.type === "object" ? JSON.parse(text.slice(at.value.offset, at.value.offset + at.value.length)) : at.value.value) !== JSON.stringify(value)) {
            edit({ offset: at.value.offset, length: at.value.length, content: render(value, indentAt(text, at.node.offset) ?? "") });
        }
    }
    return text.endsWith("\n") ? text : text + "\n";
}
