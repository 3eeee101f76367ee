// kv mode with ZooKeeper under mocks (one process per file: Pulumi's mocks are global).
import { beforeAll, describe, expect, it } from "vitest";
import * as h from "./harness";

beforeAll(async () => {
    await h.buildCluster({
        mode: "kv",
        hosts: [
            { name: "zk1", address: "10.40.0.11" },
            { name: "zk2", address: "10.40.0.12" },
        ],
        kv: { backend: "zookeeper", host: "zk1" },
        services: [],
        connectivity: { enabled: false },
    });
});

describe("kv mode: ZooKeeper", () => {
    it("pulls the image, runs it on the host network and allows the ruok probe", () => {
        expect(h.byName("overlay-kv-image").inputs).toEqual({ name: "zookeeper:3.8", keepLocally: true });
        const server = h.byName("overlay-kv-server").inputs;
        expect(server.networkMode).toBe("host");
        expect(server.envs).toEqual(["ZOO_4LW_COMMANDS_WHITELIST=ruok,srvr"]);
        expect(server.volumes).toEqual([{ volumeName: "docker-overlay-test-zookeeper-data", containerPath: "/data" }]);
    });

    it("waits for imok and hands daemons a zk:// URL", () => {
        expect(h.varOf(h.scriptOf(h.byName("overlay-kv-ready").inputs), "BACKEND")).toBe("zookeeper");
        const script = h.scriptOf(h.byName("overlay-zk2-daemon-config-apply").inputs);
        expect(h.varOf(script, "EXPECT_CLUSTER_STORE")).toBe("zk://192.168.87.131:2181");
    });

    it("creates a network with Docker's default addressing when no subnet is given", () => {
        const net = h.byName("overlay-net-network").inputs;
        expect(net.name).toBe("my_overlay");
        expect(net.ipamConfigs).toBeUndefined();
    });
});
