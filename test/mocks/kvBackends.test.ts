// kv mode with etcd under mocks: the store's container, the restart order and the URL every
// daemon gets. (Consul: kvConsul.test.ts; ZooKeeper is refused by the config.) Real etcd-backed
// overlays: test/e2e.
import { beforeAll, describe, expect, it } from "vitest";
import * as h from "./harness";

const config = (backend: "etcd", host: string) => ({
    mode: "kv",
    hosts: [
        { name: "lab1", address: "10.210.0.11" },
        { name: "lab2", address: "10.210.0.12" },
        { name: "lab3", address: "10.210.0.13" },
    ],
    kv: { backend, host, image: "dolab/etcd:3.4", pull: false },
    network: { name: "lab_overlay", subnet: "10.220.0.0/24" },
    services: [],
    connectivity: { enabled: false },
});

describe("kv mode: etcd", () => {
    beforeAll(async () => {
        await h.buildCluster(config("etcd", "lab2"));
    });

    it("declares no Consul resources and no image pull for a local etcd image", () => {
        const types = h.recorded.map((r) => r.type);
        expect(types.filter((t) => t.startsWith("consul") || t === "pulumi:providers:consul")).toEqual([]);
        expect(h.recorded.filter((r) => r.type === "docker:index/remoteImage:RemoteImage")).toEqual([]);
        expect(h.recorded.filter((r) => r.type === "command:remote:Command").map((r) => r.name).sort()).toEqual(
            [
                "overlay-kv-ready",
                ...["lab1", "lab2", "lab3"].flatMap((n) => [
                    `overlay-${n}-daemon-config-apply`,
                    `overlay-${n}-daemon-config-backup`,
                    `overlay-${n}-facts`,
                    `overlay-${n}-reachable`,
                    `overlay-${n}-rejoin-run`,
                ]),
            ].sort(),
        );
    });

    it("runs etcd with the v2 API Docker needs, on the host network of the KV host", () => {
        const server = h.byName("overlay-kv-server");
        expect(server.provider).toMatch(/overlay-lab2-docker/);
        expect(server.inputs.image).toBe("dolab/etcd:3.4");
        expect(server.inputs.networkMode).toBe("host");
        expect(server.inputs.command).toContain("--enable-v2=true");
        expect(server.inputs.command).toContain("--advertise-client-urls=http://192.168.87.132:2379");
        expect(server.inputs.volumes).toEqual([{ volumeName: "docker-overlay-test-etcd-data", containerPath: "/etcd-data" }]);
    });

    it("restarts the KV host's daemon first, then the other two one at a time (a daemon joins the gossip through one that must be up)", () => {
        expect(h.declaredNamed("overlay-lab2-daemon-config").dependsOn).toEqual(["overlay-kv-ready"]);
        expect(h.declaredNamed("overlay-lab1-daemon-config").dependsOn).toEqual(["overlay-kv-ready", "overlay-lab2-daemon-config-apply"]);
        expect(h.declaredNamed("overlay-lab3-daemon-config").dependsOn).toEqual(["overlay-kv-ready", "overlay-lab1-daemon-config-apply"]);
    });

    it("routes each host's interface detection at the KV host (and the KV host at a peer)", () => {
        const target = (n: string) => h.arrayVarOf(h.scriptOf(h.byName(`overlay-${n}-facts`).inputs), "PEERS");
        expect([target("lab1"), target("lab2"), target("lab3")]).toEqual([["10.210.0.12"], ["10.210.0.11"], ["10.210.0.12"]]);
    });

    it("gives each daemon etcd's URL", () => {
        const script = h.scriptOf(h.byName("overlay-lab3-daemon-config-apply").inputs);
        expect(h.varOf(script, "EXPECT_CLUSTER_STORE")).toBe("etcd://192.168.87.132:2379");
    });
});
