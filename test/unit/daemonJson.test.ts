import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CLUSTER_KEYS, DaemonJsonError, mergeDaemonJson, type ClusterOptions } from "../../components/daemonJson";

const OPTS: ClusterOptions = { clusterStore: "etcd://10.210.0.11:2379", clusterAdvertise: "eth0:2376" };
const OURS_ONLY = '{\n  "cluster-store": "etcd://10.210.0.11:2379",\n  "cluster-advertise": "eth0:2376"\n}\n';

function merge(original: string | undefined, opts: ClusterOptions = OPTS): string {
    return mergeDaemonJson(original, opts, "lab1");
}

function error(fn: () => unknown): DaemonJsonError {
    try {
        fn();
    } catch (e) {
        expect(e).toBeInstanceOf(DaemonJsonError);
        return e as DaemonJsonError;
    }
    throw new Error("expected a DaemonJsonError");
}

describe("mergeDaemonJson", () => {
    it("exports the keys it owns", () => {
        expect(CLUSTER_KEYS).toEqual(["cluster-store", "cluster-advertise", "cluster-store-opts"]);
    });

    it("no file: just our keys, 2-space indent, trailing newline", () => {
        expect(merge(undefined)).toBe(OURS_ONLY);
    });

    it.each([[""], ["   \n\t\r\n"]])("empty or whitespace-only file %j: just our keys", (original) => {
        expect(merge(original)).toBe(OURS_ONLY);
    });

    it("keeps every other byte as written (order, integer-like keys, layout), ours after the last key and laid out like it", () => {
        const minified = '{"storage-driver":"overlay2","10":"ten","log-opts":{"max-size":"10m","2":true},"debug":false}';
        expect(merge(minified)).toBe('{"storage-driver":"overlay2","10":"ten","log-opts":{"max-size":"10m","2":true},"debug":false,"cluster-store":"etcd://10.210.0.11:2379","cluster-advertise":"eth0:2376"}\n');
        const tabs = '{\n\t"log-opts": {"max-size": "10m"},\n\t"debug": false\n}\n';
        expect(merge(tabs)).toBe('{\n\t"log-opts": {"max-size": "10m"},\n\t"debug": false,\n\t"cluster-store": "etcd://10.210.0.11:2379",\n\t"cluster-advertise": "eth0:2376"\n}\n');
        // One key on its own line: ours go on lines of their own at its indent.
        expect(merge('{\n    "debug": false\n}')).toBe('{\n    "debug": false,\n    "cluster-store": "etcd://10.210.0.11:2379",\n    "cluster-advertise": "eth0:2376"\n}\n');
        expect(merge('{ "debug": false }')).toBe('{ "debug": false, "cluster-store": "etcd://10.210.0.11:2379", "cluster-advertise": "eth0:2376" }\n');
        expect(merge("{}")).toBe(OURS_ONLY);
    });

    it("keeps numbers digit for digit and strings with escapes", () => {
        const original = '{"big": 12345678901234567890, "exp": 1.50E+3, "neg": -0, "s": "a\\u00e9\\"\\n/"}';
        const out = merge(original);
        expect(out).toContain('"big": 12345678901234567890,');
        expect(out).toContain('"exp": 1.50E+3,');
        expect(out).toContain('"neg": -0,');
        expect(JSON.parse(out).s).toBe('aé"\n/');
    });

    it("replaces our keys in place, drops duplicates of them, and drops stale cluster-store-opts", () => {
        const original = '{"cluster-advertise":"ens33:2375","debug":true,"cluster-store":"consul://old:8500","cluster-store-opts":{"kv.cacertfile":"/x"},"cluster-store":"zk://dup:2181"}';
        expect(merge(original)).toBe('{"cluster-advertise":"eth0:2376","debug":true,"cluster-store":"etcd://10.210.0.11:2379"}\n');
        const pretty = '{\n  "cluster-store-opts": {\n    "kv.cacertfile": "/x"\n  },\n  "debug": true\n}\n';
        expect(merge(pretty)).toBe('{\n  "debug": true,\n  "cluster-store": "etcd://10.210.0.11:2379",\n  "cluster-advertise": "eth0:2376"\n}\n');
        // The only key was a stale one of ours: what is left is our keys alone.
        expect(merge('{"cluster-store-opts": {}}')).toBe(OURS_ONLY);
    });

    it("sets cluster-store-opts when given, indented from where the key stands", () => {
        const out = JSON.parse(merge('{"cluster-store-opts":{"old":"x"}}', { ...OPTS, clusterStoreOpts: { "kv.path": "docker/nodes" } }));
        expect(out).toEqual({ "cluster-store-opts": { "kv.path": "docker/nodes" }, "cluster-store": OPTS.clusterStore, "cluster-advertise": OPTS.clusterAdvertise });
        const opts = { ...OPTS, clusterStoreOpts: { "discovery.heartbeat": "3", "discovery.ttl": "20" } };
        expect(merge('{\n  "debug": true\n}\n', opts)).toBe(
            '{\n  "debug": true,\n  "cluster-store": "etcd://10.210.0.11:2379",\n  "cluster-advertise": "eth0:2376",\n  "cluster-store-opts": {\n    "discovery.heartbeat": "3",\n    "discovery.ttl": "20"\n  }\n}\n',
        );
    });

    it("is idempotent: merging its own output changes nothing", () => {
        const once = merge('{"debug":true}');
        expect(merge(once)).toBe(once);
    });

    it.each([
        ['{"debug": true,}', "line 1 column 16"],
        ['{\n  "debug": tru\n}', "line 2 column 12"],
        ["{'debug': true}", "line 1 column 2"],
        ['{"a":1} {"b":2}', "unexpected text after the end"],
        ['{"a":"\u0001"}', "control character"],
        ["\ufeff{}", "unexpected character"],
    ])("refuses invalid JSON %j with the host, the error and what to do", (original, detail) => {
        const e = error(() => merge(original));
        expect(e.message).toMatch(/^docker-overlay: lab1: \/etc\/docker\/daemon\.json is not valid JSON \(/);
        expect(e.message).toContain(detail);
        expect(e.message).toContain("Fix /etc/docker/daemon.json on lab1 by hand, then run pulumi up again.");
    });

    it.each([
        ["[1, 2]", "a JSON array"],
        ["42", "a JSON number"],
        ['"text"', "a JSON string"],
        ["null", "null"],
    ])("refuses %s, which is not an object", (original, what) => {
        const e = error(() => merge(original));
        expect(e.message).toBe(
            `docker-overlay: lab1: /etc/docker/daemon.json holds ${what}, not a JSON object ({...}). Fix /etc/docker/daemon.json on lab1 by hand (an empty file or {} is fine), then run pulumi up again.`,
        );
    });

    it.each([
        ['{"debug": true /* on */}', "a comment (JSON has none) at line 1 column 16"],
        ['{"debug": "on', "unterminated string"],
        ['{"debug" true}', "':' expected at line 1 column 10"],
    ])("refuses what Docker refuses too: %j", (original, detail) => {
        expect(error(() => merge(original)).message).toContain(detail);
    });

    it("refuses true and false, which are not objects either", () => {
        expect(error(() => merge("true")).message).toContain("holds true, not a JSON object");
        expect(error(() => merge(" false\n")).message).toContain("holds false, not a JSON object");
    });

    it("refuses cluster options that are not a store URL / advertise address", () => {
        expect(error(() => merge(undefined, { clusterStore: "10.0.0.1:2379", clusterAdvertise: "eth0:2376" })).message).toContain("cluster-store must look like etcd://HOST:PORT");
        expect(error(() => merge(undefined, { clusterStore: "etcd://a:1", clusterAdvertise: "eth0" })).message).toContain("cluster-advertise must be INTERFACE:PORT");
    });

    it("property: any object of unrelated keys survives deep-equal, in order, with ours set", () => {
        const unrelated = fc.dictionary(
            fc.string().filter((k) => !CLUSTER_KEYS.includes(k)),
            fc.jsonValue(),
        );
        fc.assert(
            fc.property(unrelated, fc.boolean(), (obj, pretty) => {
                const original = JSON.stringify(obj, null, pretty ? 4 : undefined);
                const out = merge(original);
                expect(out.endsWith("}\n")).toBe(true);
                const parsed = JSON.parse(out) as Record<string, unknown>;
                const reparsed = JSON.parse(original) as Record<string, unknown>;
                const { "cluster-store": store, "cluster-advertise": advertise, ...rest } = parsed;
                expect(store).toBe(OPTS.clusterStore);
                expect(advertise).toBe(OPTS.clusterAdvertise);
                expect(rest).toEqual(reparsed);
                expect(Object.keys(rest)).toEqual(Object.keys(reparsed));
                // a second merge is a fixed point
                expect(merge(out)).toBe(out);
            }),
            { numRuns: 300 },
        );
    });

    it("property: the original's bytes are all in the result, ours inserted in one place (after its last key)", () => {
        // Any layout: JSON.stringify's, then random whitespace between the tokens.
        const file = fc
            .tuple(
                fc.dictionary(
                    fc.string().filter((k) => !CLUSTER_KEYS.includes(k)),
                    fc.jsonValue(),
                    { minKeys: 1 },
                ),
                fc.constantFrom(undefined, 2, 4, "\t"),
                fc.constantFrom("", "\n", "\n\n"),
            )
            .map(([obj, indent, tail]) => JSON.stringify(obj, null, indent) + tail);
        fc.assert(
            fc.property(file, (original) => {
                const out = merge(original);
                const end = original.lastIndexOf("}");
                // Everything before the closing brace's whitespace, then ours, then the rest.
                const head = original.slice(0, end).trimEnd();
                expect(out.startsWith(head)).toBe(true);
                const rest = original.slice(head.length);
                expect(out.endsWith(rest.endsWith("\n") ? rest : rest + "\n")).toBe(true);
                expect(out.length).toBeGreaterThan(original.length);
                expect(JSON.parse(out)).toMatchObject({ "cluster-store": OPTS.clusterStore, "cluster-advertise": OPTS.clusterAdvertise });
            }),
            { numRuns: 300 },
        );
    });
});
