// OverlayCluster's settings (the library's way in): the stack file's schema and words, host keys
// required without preflight, and the stack program's round trip through settingsOf.
import { describe, expect, expectTypeOf, it } from "vitest";
import { type ClusterSettings, clusterConfigOf, settingsOf } from "../../components/clusterSettings";
import { type ClusterConfig, ConfigError, parseConfig, type RawConfig } from "../../components/config";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBQU3Xf9df2U7mRix5uE5TIr55H3udLTI7a76JCjg6gt";
const WHERE = 'OverlayCluster "overlay"';

const hosts = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `node${i + 1}`, address: `192.168.87.${131 + i}`, hostKey: KEY }));

/** The error a function throws, as a ConfigError. */
function refusal(f: () => unknown): ConfigError {
    try {
        f();
    } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return e as ConfigError;
    }
    throw new Error("expected a ConfigError");
}

describe("clusterConfigOf", () => {
    it("takes every key of the stack file's schema but the program's own (checked by tsc)", () => {
        expectTypeOf<Exclude<keyof RawConfig, keyof ClusterSettings | "preflight">>().toEqualTypeOf<never>();
    });

    it("refuses a bad setting with the very problems the stack file gets, naming the component instead of the file", () => {
        const bad: unknown[] = [
            { mode: "kv", hosts: hosts(2), kv: { host: "node3" }, network: { subnet: "10.0.1.0/24", gateway: "10.0.2.1" } },
            { mode: "swarm", hosts: [...hosts(1), { ...hosts(2)[1], name: "Node_2" }], services: [{ name: "api", host: "node1", image: "Nginx" }] },
            { mode: "kv", hosts: hosts(2), kv: { servers: ["node1", "node2"] }, netwrok: {} },
            { mode: "swarm", hosts: [] },
        ];
        for (const settings of bad) {
            const fromStack = refusal(() => parseConfig(settings, "Pulumi.dev.yaml"));
            const fromArgs = refusal(() => clusterConfigOf(settings as ClusterSettings, WHERE));
            expect(fromArgs.problems).toEqual(fromStack.problems);
            expect(fromArgs.message).toBe(fromStack.message.replace(/^Pulumi\.dev\.yaml /, `${WHERE} `));
            expect(fromArgs.message).toMatch(/^OverlayCluster "overlay" has (a problem|\d+ problems); nothing was changed on any host:\n  - `docker-overlay:/);
        }
    });

    it("refuses `mode: auto`, which only the stack program's preflight can decide", () => {
        expect(refusal(() => clusterConfigOf({ mode: "auto", hosts: hosts(1) } as unknown as ClusterSettings, WHERE)).problems).toEqual([
            "`docker-overlay:mode` is \"auto\": the choice needs the hosts' engine versions, which only preflight reads",
        ]);
    });

    it("refuses a host whose key is pinned nowhere (nothing shows the key without preflight)", () => {
        const e = refusal(() => clusterConfigOf({ mode: "swarm", hosts: [hosts(1)[0]!, { name: "node2", address: "192.168.87.132" }] }, WHERE));
        expect(e.problems).toEqual([expect.stringMatching(/^`docker-overlay:hosts\[1\]\.hostKey` is nothing and `ssh\.knownHostsFile` is not set: host node2's SSH key cannot be checked/)]);
    });

    it("takes the lab's opt-out, and returns the warning that names the unchecked hosts", () => {
        const { config, warning } = clusterConfigOf({ mode: "swarm", hosts: [hosts(1)[0]!, { name: "node2", address: "192.168.87.132" }], ssh: { insecureAcceptAnyHostKey: true } }, WHERE);
        expect(config.hosts.map((h) => h.hostKey)).toEqual([KEY, undefined]);
        expect(warning).toMatch(/^docker-overlay: INSECURE: `ssh\.insecureAcceptAnyHostKey` is set, so the SSH host keys of node2 are NOT checked/);
        expect(clusterConfigOf({ mode: "swarm", hosts: hosts(2) }, WHERE).warning).toBeUndefined();
    });

    it("fills in the same defaults as the stack file", () => {
        const settings: ClusterSettings = { mode: "kv", hosts: hosts(2), kv: { host: "node1" }, services: [{ name: "web", host: "node2", image: "nginx:1.27", ports: [{ internal: 80 }] }] };
        expect(clusterConfigOf(settings, WHERE).config).toEqual(parseConfig(settings, "Pulumi.dev.yaml"));
    });
});

describe("settingsOf", () => {
    const configs: Record<string, unknown> = {
        "kv on one Consul": { mode: "kv", hosts: hosts(2), kv: { host: "node1" }, network: { name: "net1", subnet: "10.0.1.0/24", gateway: "10.0.1.1", mtu: 1450 } },
        "kv on an etcd cluster": { mode: "kv", hosts: hosts(3), kv: { backend: "etcd", servers: ["node1", "node2", "node3"], pull: false }, docker: { restartCommand: ["service", "docker", "restart"], waitSeconds: 90 } },
        "kv on Consul with ACLs, behind the firewall": { mode: "kv", hosts: hosts(2), kv: { host: "node1", acl: true }, firewall: true },
        "swarm with Consul as the registry": {
            mode: "swarm",
            hosts: hosts(3).map((h, i) => ({ ...h, swarmRole: i === 2 ? "manager" : "worker" })),
            kv: { servers: ["node1", "node2", "node3"] },
            services: [{ name: "api", host: "node2", image: "traefik/whoami:v1.10", env: { A: "1" }, aliases: ["api.internal"], ports: [{ internal: 80, external: 8080, protocol: "tcp" }], registerInConsul: true }],
            connectivity: { enabled: false },
            ssh: { insecureAcceptAnyHostKey: true },
        },
    };
    for (const [what, raw] of Object.entries(configs)) {
        it(`gives back the same config: ${what}`, () => {
            const c: ClusterConfig = parseConfig(raw, "Pulumi.dev.yaml");
            expect(clusterConfigOf(settingsOf(c), WHERE).config).toEqual(c);
        });
    }
});
