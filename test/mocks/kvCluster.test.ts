// kv mode on a Consul cluster (`kv.servers`) under mocks: three servers, a client agent on every
// other host, each daemon on the agent of its own host, the servers' daemons restarted one at a
// time. What mocks cannot prove (that the cluster forms, survives a loss, and that the order
// holds at run time) is proven on a 5-host lab in test/e2e/consul-cluster.test.ts.
import { beforeAll, describe, expect, it } from "vitest";
import * as h from "./harness";

const hosts = ["n1", "n2", "n3", "n4", "n5"];
const CLUSTER = {
    mode: "kv",
    hosts: hosts.map((name, i) => ({ name, address: `10.50.0.${i + 1}` })),
    kv: { backend: "consul", servers: ["n1", "n2", "n3"], image: "hashicorp/consul:1.14.11", pull: false },
    network: { name: "ha_overlay", subnet: "10.60.0.0/24" },
    services: [{ name: "api", host: "n4", image: "traefik/whoami:v1.10", pull: false, port: 80, registerInConsul: true }],
    connectivity: { enabled: false },
};
/** What host-facts reports for nK under the mocks (harness FACTS). */
const addr = (n: number) => `192.168.87.${130 + n}`;

beforeAll(async () => {
    await h.buildCluster(CLUSTER);
});

describe("kv mode on a Consul cluster", () => {
    it("runs a Consul server on each of kv.servers and a client agent on every other host", () => {
        const containers = h.recorded.filter((r) => r.type === "docker:index/container:Container" && r.name.startsWith("overlay-kv-")).map((r) => r.name);
        expect(containers.sort()).toEqual(["overlay-kv-n1-server", "overlay-kv-n2-server", "overlay-kv-n3-server", "overlay-kv-n4-agent", "overlay-kv-n5-agent"]);
        for (const n of [1, 2, 3]) {
            const c = h.byName(`overlay-kv-n${n}-server`);
            expect(c.provider).toMatch(new RegExp(`overlay-n${n}-docker`));
            expect(c.inputs.networkMode).toBe("host");
            const others = [1, 2, 3].filter((x) => x !== n).map((x) => `-retry-join=${addr(x)}`);
            expect(c.inputs.command).toEqual(["agent", "-server", "-bootstrap-expect=3", "-ui", `-client=127.0.0.1 ${addr(n)}`, "-http-port=8500", "-data-dir=/consul/data", "-hcl=performance { raft_multiplier = 1 }", ...others]);
        }
        expect(h.byName("overlay-kv-n4-agent").inputs.command).toEqual(["agent", `-client=127.0.0.1 ${addr(4)}`, "-http-port=8500", "-data-dir=/consul/data", ...[1, 2, 3].map((x) => `-retry-join=${addr(x)}`)]);
        expect(h.byName("overlay-kv-n5-agent").inputs.envs).toEqual(["CONSUL_BIND_INTERFACE=ens33"]);
    });

    it("waits on the first server until the cluster has a leader and all five agents joined", () => {
        const script = h.scriptOf(h.byName("overlay-kv-ready").inputs);
        expect(h.varOf(script, "EXPECT_MEMBERS")).toBe("5");
        expect(h.varOf(script, "HOST_LABEL")).toBe("n1");
        expect(h.declaredNamed("overlay-kv-ready").dependsOn).toEqual(["overlay-kv-n1-ready", "overlay-kv-n2-ready", "overlay-kv-n3-ready", "overlay-kv-n4-ready", "overlay-kv-n5-ready"]);
        // each member's own wait runs on its own host
        expect(h.varOf(h.scriptOf(h.byName("overlay-kv-n4-ready").inputs), "HOST_LABEL")).toBe("n4");
    });

    it("points every daemon at the Consul agent on its own host", () => {
        for (const n of [1, 2, 3, 4, 5]) {
            const script = h.scriptOf(h.byName(`overlay-n${n}-daemon-config-apply`).inputs);
            expect(h.varOf(script, "EXPECT_CLUSTER_STORE"), `n${n}`).toBe(`consul://${addr(n)}:8500`);
        }
    });

    it("restarts the servers' daemons one at a time (a majority stays up), then the others one at a time (each joins the gossip through one that must be up)", () => {
        expect(h.declaredNamed("overlay-n1-daemon-config").dependsOn).toEqual(["overlay-kv-ready"]);
        expect(h.declaredNamed("overlay-n2-daemon-config").dependsOn).toEqual(["overlay-kv-ready", "overlay-n1-daemon-config-apply"]);
        expect(h.declaredNamed("overlay-n3-daemon-config").dependsOn).toEqual(["overlay-kv-ready", "overlay-n2-daemon-config-apply"]);
        expect(h.declaredNamed("overlay-n4-daemon-config").dependsOn).toEqual(["overlay-kv-ready", "overlay-n3-daemon-config-apply"]);
        expect(h.declaredNamed("overlay-n5-daemon-config").dependsOn).toEqual(["overlay-kv-ready", "overlay-n4-daemon-config-apply"]);
    });

    it("writes nothing to the store (the network first) until the cluster settled after the last server's restart", () => {
        expect(h.declaredNamed("overlay-kv-settled").dependsOn).toEqual(["overlay-n3-daemon-config-apply"]);
        expect(h.varOf(h.scriptOf(h.byName("overlay-kv-settled").inputs), "EXPECT_MEMBERS")).toBe("5");
        expect(h.declaredNamed("overlay-net-network").dependsOn).toEqual(["overlay-kv-settled"]);
    });

    it("uses Consul as the registry, through the first server, only once the cluster settled", () => {
        expect(h.declaredNamed("overlay-consul").dependsOn).toEqual(["overlay-kv-settled"]);
        expect(h.byName("overlay-consul-provider").inputs).toMatchObject({ address: "10.50.0.1:8500" });
        expect(h.byName("overlay-svc-api-registration").inputs).toMatchObject({ name: "api", port: 80 });
    });
});
