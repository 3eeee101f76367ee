// kv mode: the Rejoin of each host (components/overlayRejoin.ts) under mocks: what it runs, with
// which count, and what makes it run again. Mocks cannot show that stopping and starting the
// containers heals the overlay after a Docker restart: test/e2e/consul-cluster.test.ts does, on a
// host whose whole Docker went down and came back.
import { beforeAll, describe, expect, it } from "vitest";
import * as h from "./harness";

const CONFIG = {
    mode: "kv",
    hosts: [
        { name: "node1", address: "192.168.87.133" },
        { name: "node2", address: "192.168.87.139" },
    ],
    kv: { backend: "etcd", host: "node1", image: "etcd:3.4" },
    network: { name: "my_overlay" },
    services: [{ name: "web", host: "node2", image: "nginx:1" }],
};

let built: Awaited<ReturnType<typeof h.buildCluster>>;
beforeAll(async () => {
    built = await h.buildCluster(CONFIG, "test", { daemonEpochs: { node1: 0, node2: 2 } });
});

describe("Rejoin: after a Docker restart, each host's containers on the overlay announce themselves again", () => {
    it("runs overlay-rejoin on each host with the network, the host's own count and its gossip address; its delete forgets the record", () => {
        for (const [host, epoch] of [
            ["node1", "0"],
            ["node2", "2"],
        ] as const) {
            const run = h.byName(`overlay-${host}-rejoin-run`);
            const create = h.scriptOf(run.inputs);
            expect(h.varOf(create, "ACTION")).toBe("rejoin");
            expect(h.varOf(create, "NETWORK")).toBe("my_overlay");
            expect(h.varOf(create, "EPOCH")).toBe(epoch);
            // The gossip address the daemon's configuration waits for, too.
            const apply = h.scriptOf(h.byName(`overlay-${host}-daemon-config-apply`).inputs);
            expect(h.varOf(create, "GOSSIP_ADDRESS")).toMatch(/:7946$/);
            expect(h.varOf(create, "GOSSIP_ADDRESS")).toBe(h.varOf(apply, "GOSSIP_ADDRESS"));
            expect(h.varOf(h.scriptOf(run.inputs, "delete"), "ACTION")).toBe("forget");
            // An update (a changed script, same generation) stops nothing.
            expect(h.varOf(h.scriptOf(run.inputs, "update"), "ACTION")).toBe("keep");
            // The old record goes before the new one is written.
            expect(h.declaredNamed(`overlay-${host}-rejoin-run`).deleteBeforeReplace).toBe(true);
        }
    });

    it("runs again on every host when any host's count or any daemon.json changes: one trigger, the same on every host", () => {
        const triggers = ["node1", "node2"].map((n) => h.byName(`overlay-${n}-rejoin-run`).inputs.triggers as string[]);
        expect(triggers[0]).toEqual(triggers[1]);
        expect(triggers[0]).toHaveLength(1);
        expect(triggers[0]![0]).toMatch(/^node1=0,node2=2;daemon\.json [0-9a-f]{16}$/);
    });

    it("comes after its own host's daemon, the hub's and the previous host's rejoin (one host at a time), and before the services and probes of that host", () => {
        expect(h.declaredNamed("overlay-node1-rejoin").dependsOn).toEqual(["overlay-node1-daemon-config-apply"]);
        expect(h.declaredNamed("overlay-node2-rejoin").dependsOn).toEqual(["overlay-node2-daemon-config-apply", "overlay-node1-daemon-config-apply", "overlay-node1-rejoin-run"]);
        expect(h.declaredNamed("overlay-svc-web").dependsOn).toEqual(["overlay-net", "overlay-node2-rejoin-run"]);
        expect(h.declaredNamed("overlay-connectivity-probe-node1").dependsOn).toEqual(["overlay-node1-rejoin-run"]);
    });

    it("gives a service the address the rejoin reported for its container, where the provider's is the one from before", async () => {
        // The mock provider reads 10.0.1.10 for every container; node2's rejoin reported web 10.0.1.10 -> 10.0.1.99.
        const { value } = await h.settle(built.cluster.serviceAddresses);
        expect(value).toEqual({ web: "10.0.1.99" });
        // A probe the rejoin did not report keeps the provider's address.
        // Containers with a fixed name: a replacement removes the old one first.
        for (const name of ["overlay-svc-web-container", "overlay-connectivity-probe-node1"]) expect(h.declaredNamed(name).deleteBeforeReplace, name).toBe(true);
        expect(h.scriptOf(h.byName("overlay-connectivity-from-node2").inputs)).toMatch(/^TARGETS=\('docker-overlay-test-probe-node1=10\.0\.1\.10'\)$/m);
    });
});
