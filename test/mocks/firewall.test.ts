// `firewall: true` under mocks: one rules command per host, with every host's underlay address as
// a peer and the ports of the stack's store. That the rules let the cluster work and refuse a
// host outside it is proven on the lab (test/e2e/firewall.test.ts).
import { beforeAll, describe, expect, it } from "vitest";
import { firewallPorts } from "../../components/firewall";
import * as h from "./harness";

beforeAll(async () => {
    await h.buildCluster({
        mode: "kv",
        hosts: [
            { name: "node1", address: "192.168.87.133" },
            { name: "node2", address: "192.168.87.139" },
        ],
        kv: { backend: "consul", host: "node1", image: "consul:1.14" },
        firewall: true,
    });
});

describe("firewall: true", () => {
    it("one rules command per host, after every host's facts (it needs their addresses)", () => {
        expect(h.inventory().filter((r) => /firewall/i.test(r))).toEqual([
            "command:remote:Command overlay-firewall-node1",
            "command:remote:Command overlay-firewall-node2",
            "docker-overlay:firewall:Firewall overlay-firewall",
        ]);
        for (const host of ["node1", "node2"]) expect(h.declaredNamed(`overlay-firewall-${host}`).dependsOn).toEqual(["overlay-node1-facts", "overlay-node2-facts"]);
    });

    it("lets in every host's underlay address (from its facts), keeps Consul's HTTP port for pulumi's machine; delete removes", () => {
        for (const host of ["node1", "node2"]) {
            const inputs = h.byName(`overlay-firewall-${host}`).inputs;
            const script = h.scriptOf(inputs);
            expect(h.varOf(script, "ACTION")).toBe("apply");
            expect(script).toContain("\nPEERS=('192.168.87.131' '192.168.87.132')\n");
            expect(script).toContain("\nTCP_PORTS=('8500' '8300:8302' '8600' '2377' '7946')\n");
            expect(script).toContain("\nUDP_PORTS=('8301:8302' '8600' '7946' '4789')\n");
            expect(script).toContain("\nOPERATOR_PORTS=('8500')\n");
            expect(h.varOf(h.scriptOf(inputs, "delete"), "ACTION")).toBe("remove");
        }
    });
});

describe("firewallPorts", () => {
    const kv = (backend: "consul" | "etcd", port: number) => ({ backend, host: "a", servers: ["a"], image: "x", port, pull: true, acl: false });
    it("etcd: its client and peer ports, no port for pulumi's machine (no provider talks to etcd)", () => {
        expect(firewallPorts({ kv: kv("etcd", 2379) })).toEqual({ tcp: ["2379", "2380", "2377", "7946"], udp: ["7946", "4789"], operator: [] });
    });
    it("swarm without a registry: swarm's, gossip and VXLAN", () => {
        expect(firewallPorts({})).toEqual({ tcp: ["2377", "7946"], udp: ["7946", "4789"], operator: [] });
    });
    it("Consul on another port", () => {
        expect(firewallPorts({ kv: kv("consul", 18500) }).operator).toEqual(["18500"]);
    });
});
