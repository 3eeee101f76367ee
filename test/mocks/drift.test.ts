// Drift under mocks: the epochs preflight hands the program (components/drift.ts) reach the host
// scripts that put the drift right, and a re-applied daemon configuration runs the rejoin again.
// That the scripts do put it right on real hosts is in test/e2e (kv: flow.ts). The swarm join's
// epoch is checked in test/mocks/swarm.test.ts.
import { beforeAll, describe, expect, it } from "vitest";
import * as h from "./harness";

const KV = {
    mode: "kv",
    hosts: [
        { name: "node1", address: "192.168.87.133" },
        { name: "node2", address: "192.168.87.139" },
    ],
    kv: { backend: "etcd", host: "node1", image: "etcd:3.4" },
    network: { name: "my_overlay" },
    connectivity: { enabled: false },
};

beforeAll(async () => {
    await h.buildCluster(KV, "test", { applyEpochs: { node1: 0, node2: 1 } });
});

describe("drift epochs (kv)", () => {
    it("a host's apply epoch reaches its daemon-config-apply (0 for a host without drift)", () => {
        const apply = (host: string) => h.varOf(h.scriptOf(h.byName(`overlay-${host}-daemon-config-apply`).inputs), "APPLY_EPOCH");
        expect([apply("node1"), apply("node2")]).toEqual(["0", "1"]);
    });

    it("a re-applied daemon configuration is in every host's rejoin generation, so the rejoin runs after it", () => {
        for (const n of ["node1", "node2"]) expect(h.byName(`overlay-${n}-rejoin-run`).inputs.triggers).toEqual([expect.stringMatching(/^node1=0,node2=0\.1;daemon\.json [0-9a-f]{16}$/)]);
    });
});
