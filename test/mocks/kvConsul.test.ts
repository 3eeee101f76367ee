// kv mode with Consul, the seed's own setup, under mocks. See harness.ts for what mocks can
// and cannot prove; ordering and real commands are proven in test/e2e.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import * as h from "./harness";

const SEED = {
    mode: "kv",
    hosts: [
        { name: "node1", address: "192.168.87.133" },
        { name: "node2", address: "192.168.87.139" },
    ],
    kv: { backend: "consul", host: "node1", image: "consul:1.5.2" },
    network: { name: "my_overlay", subnet: "10.0.1.0/24", gateway: "10.0.1.1" },
    services: [
        { name: "mycentos1", host: "node1", image: "centos:7", command: ["sleep", "infinity"] },
        { name: "mycentos2", host: "node2", image: "centos:7", command: ["sleep", "infinity"], registerInConsul: true, ports: [{ internal: 80 }] },
    ],
};

let built: Awaited<ReturnType<typeof h.buildCluster>>;
beforeAll(async () => {
    built = await h.buildCluster(SEED);
});

describe("kv mode with Consul (the seed)", () => {
    it("declares exactly these resources", () => {
        expect(h.inventory()).toEqual(
            [
                "command:remote:Command overlay-connectivity-from-node1",
                "command:remote:Command overlay-connectivity-from-node2",
                "command:remote:Command overlay-consul-ready",
                "command:remote:Command overlay-kv-ready",
                "command:remote:Command overlay-node1-daemon-config-apply",
                "command:remote:Command overlay-node1-daemon-config-backup",
                "command:remote:Command overlay-node1-facts",
                "command:remote:Command overlay-node1-reachable",
                "command:remote:Command overlay-node1-rejoin-run",
                "command:remote:Command overlay-node2-daemon-config-apply",
                "command:remote:Command overlay-node2-daemon-config-backup",
                "command:remote:Command overlay-node2-facts",
                "command:remote:Command overlay-node2-reachable",
                "command:remote:Command overlay-node2-rejoin-run",
                "consul:index/keyPrefix:KeyPrefix overlay-consul-record",
                "consul:index/node:Node overlay-consul-node",
                "consul:index/service:Service overlay-svc-mycentos2-registration",
                "docker-overlay:cluster:OverlayCluster overlay",
                "docker-overlay:connectivity:ConnectivityCheck overlay-connectivity",
                "docker-overlay:consul:ConsulRegistry overlay-consul",
                "docker-overlay:daemon:DaemonConfig overlay-node1-daemon-config",
                "docker-overlay:daemon:DaemonConfig overlay-node2-daemon-config",
                "docker-overlay:host:DockerHost overlay-node1",
                "docker-overlay:host:DockerHost overlay-node2",
                "docker-overlay:kv:KvStore overlay-kv",
                "docker-overlay:network:OverlayNetwork overlay-net",
                "docker-overlay:overlay:Rejoin overlay-node1-rejoin",
                "docker-overlay:overlay:Rejoin overlay-node2-rejoin",
                "docker-overlay:service:Service overlay-svc-mycentos1",
                "docker-overlay:service:Service overlay-svc-mycentos2",
                "docker:index/container:Container overlay-connectivity-probe-node1",
                "docker:index/container:Container overlay-connectivity-probe-node2",
                "docker:index/container:Container overlay-kv-server",
                "docker:index/container:Container overlay-svc-mycentos1-container",
                "docker:index/container:Container overlay-svc-mycentos2-container",
                "docker:index/network:Network overlay-net-network",
                "docker:index/remoteImage:RemoteImage overlay-connectivity-image-node1",
                "docker:index/remoteImage:RemoteImage overlay-connectivity-image-node2",
                "docker:index/remoteImage:RemoteImage overlay-kv-image",
                "docker:index/remoteImage:RemoteImage overlay-svc-mycentos1-image",
                "docker:index/remoteImage:RemoteImage overlay-svc-mycentos2-image",
                "docker:index/volume:Volume overlay-kv-data",
                "pulumi:providers:consul overlay-consul-provider",
                "pulumi:providers:docker overlay-node1-docker",
                "pulumi:providers:docker overlay-node2-docker",
            ].sort(),
        );
    });

    it("runs Consul as the seed does: host network, bound to the detected interface, restart always, with a data volume", () => {
        const server = h.byName("overlay-kv-server").inputs;
        expect(server.name).toBe("docker-overlay-test-consul");
        expect(server.image).toBe("sha256:consul:1.5.2");
        expect(server.networkMode).toBe("host");
        expect(server.restart).toBe("always");
        // ens33 is what host-facts reported for node1 (the mock), not a hard-coded name.
        expect(server.envs).toEqual(["CONSUL_BIND_INTERFACE=ens33"]);
        // The API on loopback and the host's underlay address (node1's, from its facts), not on every interface.
        expect(server.command).toEqual(["agent", "-server", "-bootstrap-expect=1", "-ui", "-client=127.0.0.1 192.168.87.131", "-http-port=8500", "-data-dir=/consul/data", "-hcl=performance { raft_multiplier = 1 }"]);
        expect(server.volumes).toEqual([{ volumeName: "docker-overlay-test-consul-data", containerPath: "/consul/data" }]);
        expect(h.byName("overlay-kv-server").provider).toMatch(/overlay-node1-docker/);
    });

    it("waits for Consul's leader before anything uses the store", () => {
        const script = h.scriptOf(h.byName("overlay-kv-ready").inputs);
        expect(h.varOf(script, "BACKEND")).toBe("consul");
        expect(h.varOf(script, "KV_PORT")).toBe("8500");
        // the address host-facts detected on node1 (the mock), as the daemons will use it
        expect(h.varOf(script, "STORE_URL")).toBe("consul://192.168.87.131:8500");
        expect(h.declaredNamed("overlay-kv-ready").dependsOn).toEqual(["overlay-kv-server"]);
    });

    it("uses Consul as the registry only after the KV host's daemon restarted (which restarts Consul), and waits for its leader again", () => {
        // Created after node1's daemon config (so destroy removes it before that config is undone).
        expect(h.declaredNamed("overlay-consul").dependsOn).toEqual(["overlay-node1-daemon-config-apply"]);
        const again = h.scriptOf(h.byName("overlay-consul-ready").inputs);
        expect(h.varOf(again, "BACKEND")).toBe("consul");
        expect(h.varOf(again, "STORE_URL")).toBe("http://192.168.87.133:8500");
        expect(h.declaredNamed("overlay-consul-provider").dependsOn).toEqual(["overlay-consul-ready"]);
        // A stack made when the provider, record and node were children of the KV store keeps them.
        expect(h.declaredNamed("overlay-consul-record").aliases).toEqual([{ name: "overlay-kv-record", parent: "overlay-kv" }]);
    });

    it("points the Consul provider at the KV host and writes the cluster's record under the stack's prefix", () => {
        expect(h.byName("overlay-consul-provider").inputs).toMatchObject({ address: "192.168.87.133:8500", scheme: "http" });
        const record = h.byName("overlay-consul-record").inputs;
        expect(record.pathPrefix).toBe("docker-overlay/test/");
        expect(record.subkeys.mode).toBe("kv");
        expect(JSON.parse(record.subkeys.hosts)).toEqual([
            { name: "node1", address: "192.168.87.133" },
            { name: "node2", address: "192.168.87.139" },
        ]);
        expect(JSON.parse(record.subkeys.network)).toEqual(SEED.network);
    });

    it("gives every daemon the store and its own detected interface, keeping the other keys of daemon.json", () => {
        for (const host of ["node1", "node2"]) {
            const script = h.scriptOf(h.byName(`overlay-${host}-daemon-config-apply`).inputs);
            const content = Buffer.from(h.varOf(script, "CONTENT_BASE64"), "base64").toString("utf8");
            expect(JSON.parse(content)).toEqual({
                "log-level": "warn",
                "cluster-store": "consul://192.168.87.131:8500",
                "cluster-advertise": "ens33:2376",
                "cluster-store-opts": { "discovery.heartbeat": "3", "discovery.ttl": "20" },
            });
            expect(h.varOf(script, "EXPECT_CLUSTER_STORE")).toBe("consul://192.168.87.131:8500");
            // The apply waits for this host's own gossip port before the network may be created.
            const n = host === "node1" ? 131 : 132;
            expect(h.varOf(script, "GOSSIP_ADDRESS")).toBe(`192.168.87.${n}:7946`);
            const restore = h.scriptOf(h.byName(`overlay-${host}-daemon-config-apply`).inputs, "delete");
            expect(restore).toContain("daemon-config-restore");
            // An update applies the same script as create, from create's line of stdin: stdin
            // (kept in the state twice) carries it once.
            const inputs = h.byName(`overlay-${host}-daemon-config-apply`).inputs;
            expect(h.scriptOf(inputs, "update")).toBe(script);
            expect(inputs.update).toBe(inputs.create);
            expect(String(inputs.stdin).split("\n").filter(Boolean).map((l: string) => l.split(" ")[0])).toEqual(["create", "delete"]);
        }
    });

    it("orders the daemons: KV host first once the store answers, then the others; the network after the KV host's, each service after its own host's", () => {
        expect(h.declaredNamed("overlay-node1-daemon-config").dependsOn).toEqual(["overlay-kv-ready"]);
        expect(h.declaredNamed("overlay-node2-daemon-config").dependsOn).toEqual(["overlay-kv-ready", "overlay-node1-daemon-config-apply"]);
        expect(h.declaredNamed("overlay-node1-daemon-config-backup").dependsOn).toEqual(["overlay-node1-facts"]);
        expect(h.declaredNamed("overlay-node1-daemon-config-apply").dependsOn).toEqual(["overlay-node1-daemon-config-backup"]);
        // Only what needs it waits for a host: a host that fails holds back its own services alone.
        expect(h.declaredNamed("overlay-net-network").dependsOn).toEqual(["overlay-node1-daemon-config-apply"]);
        // Each host's containers announce themselves again after its own daemon (and the hub's).
        expect(h.declaredNamed("overlay-node1-rejoin").dependsOn).toEqual(["overlay-node1-daemon-config-apply"]);
        expect(h.declaredNamed("overlay-node2-rejoin").dependsOn).toEqual(["overlay-node2-daemon-config-apply", "overlay-node1-daemon-config-apply", "overlay-node1-rejoin-run"]);
        expect(h.declaredNamed("overlay-svc-mycentos1").dependsOn).toEqual(["overlay-net", "overlay-node1-rejoin-run"]);
        expect(h.declaredNamed("overlay-svc-mycentos2").dependsOn).toEqual(["overlay-net", "overlay-node2-rejoin-run"]);
        // A probe joins the overlay through its own host's daemon, so it too waits for that host.
        expect(h.declaredNamed("overlay-connectivity-probe-node2").dependsOn).toEqual(["overlay-node2-rejoin-run"]);
        expect(h.declaredNamed("overlay-node1-facts").dependsOn).toEqual(["overlay-node1-reachable"]);
    });

    it("creates a global overlay (not attachable) through the KV host with the configured subnet", () => {
        const net = h.byName("overlay-net-network");
        expect(net.inputs).toMatchObject({ name: "my_overlay", driver: "overlay", attachable: false, ipamConfigs: [{ subnet: "10.0.1.0/24", gateway: "10.0.1.1" }] });
        expect(net.inputs.options).toEqual({});
        // What we asked for, recorded where swarm's own options cannot change it (see overlayNetwork.ts).
        expect(net.inputs.labels).toEqual([{ label: "docker-overlay.options", value: "{}" }]);
        expect(net.provider).toMatch(/overlay-node1-docker/);
    });

    it("puts every service on the overlay through its own host's provider", () => {
        for (const [svc, host] of [["mycentos1", "node1"], ["mycentos2", "node2"]] as const) {
            const c = h.byName(`overlay-svc-${svc}-container`);
            expect(c.inputs.name).toBe(svc);
            expect(c.inputs.networksAdvanced).toEqual([{ name: "my_overlay", aliases: [] }]);
            expect(c.inputs.command).toEqual(["sleep", "infinity"]);
            expect(c.provider).toMatch(new RegExp(`overlay-${host}-docker`));
        }
    });

    it("registers a service in Consul with its overlay address", async () => {
        const reg = h.byName("overlay-svc-mycentos2-registration").inputs;
        expect(reg).toMatchObject({ name: "mycentos2", node: "docker-overlay-test-consul-overlay", address: "10.0.1.10", port: 80 });
        expect((await h.settle(built.cluster.serviceAddresses)).value).toEqual({ mycentos1: "10.0.1.10", mycentos2: "10.0.1.10" });
    });

    it("checks every host from every other host after the services exist", () => {
        const script = h.scriptOf(h.byName("overlay-connectivity-from-node1").inputs);
        expect(h.varOf(script, "PROBE")).toBe("docker-overlay-test-probe-node1");
        expect(script).toMatch(/^TARGETS=\('docker-overlay-test-probe-node2=10\.0\.1\.10'\)$/m);
        expect(h.declaredNamed("overlay-connectivity-from-node1").dependsOn).toEqual([
            "overlay-connectivity-probe-node1",
            "overlay-connectivity-probe-node2",
            "overlay-svc-mycentos1",
            "overlay-svc-mycentos2",
        ]);
    });

    it("keeps the private key secret wherever it is used", async () => {
        const host = built.cluster.hosts["node1"]!;
        expect((await h.settle(host.reachable.connection)).secret).toBe(true);
        expect((await h.settle(host.factsCommand!.connection)).secret).toBe(true);
        const provider = h.declaredNamed("overlay-node1-docker");
        expect(provider.type).toBe("pulumi:providers:docker");
        // The docker provider gets a key *file* path, never the key itself.
        expect(JSON.stringify(h.byName("overlay-node1-docker").inputs)).not.toContain("mock-key-material");
    });

    it("parents every resource under the component that owns it", () => {
        const parents = Object.fromEntries(h.declared.map((d) => [d.name, d.parent]));
        expect(parents["overlay-node1"]).toBe("overlay");
        expect(parents["overlay-node1-reachable"]).toBe("overlay-node1");
        expect(parents["overlay-node1-docker"]).toBe("overlay-node1");
        expect(parents["overlay-kv-server"]).toBe("overlay-kv");
        expect(parents["overlay-node2-daemon-config-apply"]).toBe("overlay-node2-daemon-config");
        expect(parents["overlay-net-network"]).toBe("overlay-net");
        expect(parents["overlay-svc-mycentos2-registration"]).toBe("overlay-svc-mycentos2");
        expect(parents["overlay-connectivity-from-node2"]).toBe("overlay-connectivity");
        // Only the cluster itself sits at the stack's root.
        expect(h.declared.filter((d) => !d.parent).map((d) => d.name)).toEqual(["overlay"]);
    });

    it("is not secret where nothing secret flows (the addresses are shown in previews)", async () => {
        expect((await h.settle(built.cluster.serviceAddresses)).secret).toBe(false);
        expect(pulumi.Output.isInstance(built.cluster.kvUrl)).toBe(true);
        expect((await h.settle(built.cluster.kvUrl)).value).toBe("consul://192.168.87.131:8500");
        expect((await h.settle(built.cluster.consulUiUrl)).value).toBe("http://192.168.87.133:8500/ui/");
    });
});

describe("the hosts output", () => {
    it("says the cluster store each daemon has after up, not the empty one read before the change", async () => {
        const facts = (await h.settle(built.cluster.hostFacts)).value as Record<string, { clusterStore: string; hostname: string }>;
        expect(Object.fromEntries(Object.entries(facts).map(([k, f]) => [k, f.clusterStore]))).toEqual({ node1: "consul://192.168.87.131:8500", node2: "consul://192.168.87.131:8500" });
        expect(facts.node2!.hostname).toBe("node2");
    });
});
