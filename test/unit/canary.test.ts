// The canary `$(touch ...)` in every string field of a full stack config: each field either refuses
// it with a message naming that field, or is one of the few free-text fields that take any text,
// and those are exactly the ones test/e2e/faults.test.ts sends to real hosts (where no file may
// appear). A new string field fails here until it is put in one group or the other.
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../components/config";

const CANARY = "$(touch /tmp/docker-overlay-canary) `touch /tmp/docker-overlay-canary`";

/** A config with every field the schema has set to a string where it takes one. */
const full = () => ({
    mode: "kv",
    hosts: [
        { name: "node1", address: "192.168.87.133", sshPort: 22, sshUser: "root", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE", swarmRole: "manager" },
        { name: "node2", address: "192.168.87.139" },
    ],
    kv: { backend: "etcd", host: "node1", image: "quay.io/coreos/etcd:v3.4.34", port: 2379, pull: true },
    network: { name: "my_overlay", subnet: "10.0.1.0/24", gateway: "10.0.1.1", mtu: 1450 },
    services: [
        {
            name: "web",
            host: "node2",
            image: "busybox:1.36",
            command: ["httpd", "-f"],
            env: { GREETING: "hello" },
            aliases: ["web.internal"],
            ports: [{ internal: 80, external: 8080, protocol: "tcp" }],
            pull: true,
        },
    ],
    docker: { restartCommand: ["systemctl", "restart", "docker"], logCommand: ["journalctl", "-u", "docker"], advertisePort: 2376, waitSeconds: 60, clusterStoreOpts: { "discovery.heartbeat": "3", "kv.path": "docker/nodes" } },
    connectivity: { enabled: true, image: "busybox:1.36", pull: true },
    preflight: { enabled: true, timeoutSeconds: 20 },
});

type Path = (string | number)[];
/** Every string leaf of a value, with its path; record keys count as fields too (`{key}` marks them). */
function stringLeaves(v: unknown, path: Path = []): Path[] {
    if (typeof v === "string") return [path];
    if (Array.isArray(v)) return v.flatMap((x, i) => stringLeaves(x, [...path, i]));
    if (v && typeof v === "object")
        return Object.entries(v).flatMap(([k, x]) => [...(isRecordField(path) ? [[...path, `{${k}}`]] : []), ...stringLeaves(x, [...path, k])]);
    return [];
}
/** Fields whose keys are user data (environment names, store options), not schema keys. */
const isRecordField = (path: Path) => path.at(-1) === "env" || path.at(-1) === "clusterStoreOpts";

function withCanary(path: Path): unknown {
    const c = full() as Record<string, unknown>;
    let at: Record<string | number, unknown> = c;
    for (const p of path.slice(0, -1)) at = at[p] as Record<string | number, unknown>;
    const last = path.at(-1)!;
    if (typeof last === "string" && last.startsWith("{")) {
        const key = last.slice(1, -1);
        at[CANARY] = at[key];
        delete at[key];
    } else at[last] = CANARY;
    return c;
}

const key = (path: Path) => "docker-overlay:" + path.map((p, i) => (typeof p === "number" ? `[${p}]` : (i ? "." : "") + p)).join("");

/** The free-text fields: any text is a value, passed to hosts as data only (proven end to end). */
const FREE_TEXT = [
    /^docker\.restartCommand\.\d+$/,
    /^docker\.logCommand\.\d+$/,
    // any option but the discovery timers, which must be whole seconds
    /^docker\.clusterStoreOpts\.(?!discovery\.(heartbeat|ttl)$)[^{]/,
    /^services\.\d+\.command\.\d+$/,
    /^services\.\d+\.env\.[^{]/,
];

describe("the canary in every string field of the stack config", () => {
    const leaves = stringLeaves(full());

    it("finds every string field of the full config (the walk itself is not empty)", () => {
        expect(leaves.length).toBeGreaterThan(30);
        expect(leaves.map((p) => p.join("."))).toEqual(expect.arrayContaining(["hosts.0.hostKey", "services.0.env.{GREETING}", "docker.clusterStoreOpts.{discovery.heartbeat}", "kv.image"]));
    });

    for (const path of leaves) {
        const dotted = path.join(".");
        const free = FREE_TEXT.some((re) => re.test(dotted));
        it(`${dotted}: ${free ? "free text, kept as data" : "refused, naming the field"}`, () => {
            const input = withCanary(path);
            if (free) {
                const parsed = parseConfig(input, "Pulumi.canary.yaml");
                // The value arrives unchanged, to be passed as one argument or one JSON string.
                expect(JSON.stringify(parsed)).toContain(JSON.stringify(CANARY).slice(1, -1));
                return;
            }
            let error: unknown;
            try {
                parseConfig(input, "Pulumi.canary.yaml");
            } catch (e) {
                error = e;
            }
            expect(error, `${dotted} accepted the canary`).toBeInstanceOf(ConfigError);
            const problems = (error as ConfigError).problems;
            // Named by its key (for a record key: the record), with what is expected.
            const named = path.at(-1)!.toString().startsWith("{") ? key(path.slice(0, -1)) : key(path);
            expect(problems.some((p) => p.startsWith(`\`${named}`)), `${problems.join("\n")} should name ${named}`).toBe(true);
        });
    }
});
