// kv mode on a 3-member etcd cluster (`kv.servers` with `backend: etcd`) under mocks: one member
// on each server, every daemon given all three members in one cluster-store URL (Docker's etcd
// store takes them; checked on the lab, and end to end in test/e2e/consul-cluster.test.ts).
import { beforeAll, describe, expect, it } from "vitest";
import * as h from "./harness";

const addr = (n: number) => `192.168.87.${130 + n}`;

beforeAll(async () => {
    await h.buildCluster({
        mode: "kv",
        hosts: ["n1", "n2", "n3", "n4"].map((name, i) => ({ name, address: `10.50.0.${i + 1}` })),
        kv: { backend: "etcd", servers: ["n1", "n2", "n3"], image: "quay.io/coreos/etcd:v3.4.34", pull: false },
        network: { name: "ha_overlay" },
        services: [],
        connectivity: { enabled: false },
    });
});

describe("kv mode on an etcd cluster", () => {
    it("runs one member on each server, no agents elsewhere, as one cluster", () => {
        const containers = h.recorded.filter((r) => r.type === "docker:index/container:Container").map((r) => r.name);
        expect(containers.sort()).toEqual(["overlay-kv-n1-server", "overlay-kv-n2-server", "overlay-kv-n3-server"]);
        const cmd = h.byName("overlay-kv-n2-server").inputs.command as string[];
        expect(cmd).toContain("--name=n2");
        expect(cmd).toContain(`--listen-peer-urls=http://${addr(2)}:2380`);
        expect(cmd).toContain(`--initial-cluster=n1=http://${addr(1)}:2380,n2=http://${addr(2)}:2380,n3=http://${addr(3)}:2380`);
        expect(cmd).toContain("--initial-cluster-state=new");
        expect(cmd).toContain("--enable-v2=true");
        expect(h.varOf(h.scriptOf(h.byName("overlay-kv-ready").inputs), "EXPECT_MEMBERS")).toBe("3");
    });

    it("gives every daemon, members and not, all three members in its cluster-store", () => {
        const url = `etcd://${addr(1)}:2379,${addr(2)}:2379,${addr(3)}:2379`;
        for (const n of [1, 2, 3, 4]) expect(h.varOf(h.scriptOf(h.byName(`overlay-n${n}-daemon-config-apply`).inputs), "EXPECT_CLUSTER_STORE")).toBe(url);
    });
});
