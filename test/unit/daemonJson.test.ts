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

    it("keeps unrelated keys, untouched and in their order (even integer-like keys), ours at the end", () => {
        const original = '{"storage-driver":"overlay2","10":"ten","log-opts":{"max-size":"10m","2":true},"debug":false}';
        expect(merge(original)).toBe(
            [
                "{",
                '  "storage-driver": "overlay2",',
                '  "10": "ten",',
                '  "log-opts": {',
                '    "max-size": "10m",',
                '    "2": true',
                "  },",
                '  "debug": false,',
                '  "cluster-store": "etcd://10.210.0.11:2379",',
                '  "cluster-advertise": "eth0:2376"',
                "}",
                "",
            ].join("\n"),
        );
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
        expect(merge(original)).toBe('{\n  "cluster-advertise": "eth0:2376",\n  "debug": true,\n  "cluster-store": "etcd://10.210.0.11:2379"\n}\n');
    });

    it("sets cluster-store-opts when given", () => {
        const out = JSON.parse(merge('{"cluster-store-opts":{"old":"x"}}', { ...OPTS, clusterStoreOpts: { "kv.path": "docker/nodes" } }));
        expect(out).toEqual({ "cluster-store-opts": { "kv.path": "docker/nodes" }, "cluster-store": OPTS.clusterStore, "cluster-advertise": OPTS.clusterAdvertise });
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
});
