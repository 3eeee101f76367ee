// A program that ran preflight hands the cluster the facts it read: the hosts run no facts
// command of their own, and what the later steps use comes from those facts. Under mocks: this
// shows the graph and the values; that preflight's facts are right on real hosts, and that the
// order still holds with them, is shown by every end-to-end test (test/e2e runs program.ts).
import { beforeAll, describe, expect, it } from "vitest";
import { type HostFacts, parseHostFacts } from "../../components/hostFacts";
import * as h from "./harness";

const ADDRESSES = ["192.168.87.133", "192.168.87.139"];
const KV = {
    mode: "kv",
    hosts: [
        { name: "node1", address: ADDRESSES[0] },
        { name: "node2", address: ADDRESSES[1] },
    ],
    kv: { backend: "consul", host: "node1", image: "consul:1.5.2" },
    network: { name: "my_overlay", subnet: "10.0.1.0/24", gateway: "10.0.1.1" },
    services: [{ name: "web", host: "node2", image: "nginx:1.27" }],
};

/** What preflight would have read on HOST: routes to every address, through an interface the mock's facts command never reports. */
function readByPreflight(host: string, n: number, change: (f: HostFacts) => void = () => undefined): HostFacts {
    const f = parseHostFacts(h.factsLine(host, n, ADDRESSES));
    f.interfaces = [{ name: "eth7", mtu: 1450, up: true, addresses: [`10.9.0.${n}/24`] }];
    f.routes = ADDRESSES.map((to) => ({ to, interface: "eth7", source: `10.9.0.${n}`, error: "" }));
    change(f);
    return f;
}

let built: Awaited<ReturnType<typeof h.buildCluster>>;
beforeAll(async () => {
    built = await h.buildCluster(KV, "test", { preflightFacts: { node1: readByPreflight("node1", 1), node2: readByPreflight("node2", 2) } });
});

describe("hosts whose facts preflight read", () => {
    it("run no facts command; what waited for it waits for the host being reachable", () => {
        expect(h.inventory().filter((r) => r.endsWith("-facts"))).toEqual([]);
        expect(h.inventory()).toContain("command:remote:Command overlay-node1-reachable");
        expect(h.declaredNamed("overlay-node1-daemon-config-backup").dependsOn).toEqual(["overlay-node1-reachable"]);
        expect(h.declaredNamed("overlay-node2-daemon-config-backup").dependsOn).toEqual(["overlay-node2-reachable"]);
    });

    it("use preflight's interface and address where the facts command's would go, and report its facts", async () => {
        const server = h.byName("overlay-kv-server").inputs;
        expect(server.envs).toEqual(["CONSUL_BIND_INTERFACE=eth7"]);
        expect(h.varOf(h.scriptOf(h.byName("overlay-kv-ready").inputs), "STORE_URL")).toBe("consul://10.9.0.1:8500");
        const facts = (await h.settle(built.cluster.hostFacts)).value;
        expect(facts.node2).toMatchObject({ hostname: "node2", interface: "eth7", address: "10.9.0.2", mtu: 1450, engineVersion: "20.10.24" });
    });

    it("refuse facts that do not say how to reach the peer, naming the host", async () => {
        await h.quiesce();
        const noRoute = readByPreflight("node2", 2, (f) => (f.routes = []));
        await expect(h.buildCluster(KV, "test", { preflightFacts: { node1: readByPreflight("node1", 1), node2: noRoute } })).rejects.toThrow(
            "host overlay-node2: could not read the host's facts: the facts hold no route to 192.168.87.133",
        );
    });
});
