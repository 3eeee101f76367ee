// Swarm mode under mocks: what is declared and what is kept secret. Real swarm formation and
// cross-host traffic are proven in test/e2e.
import { beforeAll, describe, expect, it } from "vitest";
import * as h from "./harness";

const PROD = {
    mode: "swarm",
    hosts: [
        { name: "app1", address: "10.20.0.11" },
        { name: "app2", address: "10.20.0.12" },
        { name: "app3", address: "10.20.0.13", swarmRole: "manager" },
    ],
    network: { name: "prod_overlay", subnet: "10.31.0.0/22", gateway: "10.31.0.1", mtu: 1450 },
    services: [{ name: "api", host: "app2", image: "traefik/whoami:v1.10", aliases: ["api.internal"], pull: false }],
    connectivity: { image: "busybox:1.36", pull: false },
};

let built: Awaited<ReturnType<typeof h.buildCluster>>;
beforeAll(async () => {
    // app3 left the swarm by hand since the last up (preflight counted it): its join runs again.
    built = await h.buildCluster(PROD, "prod", { joinEpochs: { app1: 0, app2: 0, app3: 1 } });
});

describe("swarm mode", () => {
    it("hands each join its drift epoch: one more for a host that left the swarm", () => {
        expect(h.varOf(h.scriptOf(h.byName("overlay-swarm-join-app2").inputs), "JOIN_EPOCH")).toBe("0");
        expect(h.varOf(h.scriptOf(h.byName("overlay-swarm-join-app3").inputs), "JOIN_EPOCH")).toBe("1");
        // Its containers lost their attachment with the swarm: the label makes them anew (after the join).
        expect(h.byName("overlay-connectivity-probe-app3").inputs.labels).toEqual([{ label: "docker-overlay.swarm-join", value: "1" }]);
        expect(h.byName("overlay-connectivity-probe-app2").inputs.labels).toBeUndefined();
        expect(h.byName("overlay-svc-api-container").inputs.labels).toBeUndefined();
        // ... and the first manager removes the node app3 left behind, after every join.
        const prune = h.byName("overlay-swarm-prune");
        expect(h.declaredNamed("overlay-swarm-prune").dependsOn).toEqual(expect.arrayContaining(["overlay-swarm-init-app1", "overlay-swarm-join-app2", "overlay-swarm-join-app3"]));
        expect(prune.inputs.triggers).toEqual(["app1=0,app2=0,app3=1"]);
        // The hosts' hostnames (from their facts) and their node IDs now (from init and the joins).
        expect(h.scriptOf(prune.inputs)).toContain("\nHOSTNAMES=('app1' 'app2' 'app3')\n");
        expect(h.scriptOf(prune.inputs)).toContain("\nCURRENT=('node-app1' 'node-app2' 'node-app3')\n");
    });

    it("declares exactly these resources: no KV store, no daemon configuration", () => {
        expect(h.inventory()).toEqual(
            [
                "command:remote:Command overlay-app1-facts",
                "command:remote:Command overlay-app1-reachable",
                "command:remote:Command overlay-app2-facts",
                "command:remote:Command overlay-app2-reachable",
                "command:remote:Command overlay-app3-facts",
                "command:remote:Command overlay-app3-reachable",
                "command:remote:Command overlay-connectivity-from-app1",
                "command:remote:Command overlay-connectivity-from-app2",
                "command:remote:Command overlay-connectivity-from-app3",
                "command:remote:Command overlay-swarm-init-app1",
                "command:remote:Command overlay-swarm-join-app2",
                "command:remote:Command overlay-swarm-join-app3",
                "command:remote:Command overlay-swarm-prune",
                "command:remote:Command overlay-swarm-tokens",
                "docker-overlay:cluster:OverlayCluster overlay",
                "docker-overlay:connectivity:ConnectivityCheck overlay-connectivity",
                "docker-overlay:host:DockerHost overlay-app1",
                "docker-overlay:host:DockerHost overlay-app2",
                "docker-overlay:host:DockerHost overlay-app3",
                "docker-overlay:network:OverlayNetwork overlay-net",
                "docker-overlay:service:Service overlay-svc-api",
                "docker-overlay:swarm:Swarm overlay-swarm",
                "docker:index/container:Container overlay-connectivity-probe-app1",
                "docker:index/container:Container overlay-connectivity-probe-app2",
                "docker:index/container:Container overlay-connectivity-probe-app3",
                "docker:index/container:Container overlay-svc-api-container",
                "docker:index/network:Network overlay-net-network",
                "pulumi:providers:docker overlay-app1-docker",
                "pulumi:providers:docker overlay-app2-docker",
                "pulumi:providers:docker overlay-app3-docker",
            ].sort(),
        );
    });

    it("initialises on the first manager at its detected address and leaves on destroy only what it created", () => {
        const init = h.byName("overlay-swarm-init-app1").inputs;
        expect(h.varOf(h.scriptOf(init), "ADVERTISE_ADDRESS")).toBe("192.168.87.131");
        expect(h.varOf(h.scriptOf(init, "delete"), "MARKER")).toBe("swarm-created");
        expect(h.declaredNamed("overlay-swarm-init-app1").dependsOn).toEqual(["overlay-app1-facts"]);
    });

    it("joins each other host with its role's token, manager address from the first manager's facts", () => {
        const join2 = h.scriptOf(h.byName("overlay-swarm-join-app2").inputs);
        const join3 = h.scriptOf(h.byName("overlay-swarm-join-app3").inputs);
        expect(h.varOf(join2, "ROLE")).toBe("worker");
        expect(h.varOf(join2, "JOIN_TOKEN")).toBe("SWMTKN-1-worker-secret");
        expect(h.varOf(join3, "ROLE")).toBe("manager");
        expect(h.varOf(join3, "JOIN_TOKEN")).toBe("SWMTKN-1-manager-secret");
        expect(h.varOf(join2, "MANAGER_ADDRESS")).toBe("192.168.87.131:2377");
        expect(h.varOf(join2, "ADVERTISE_ADDRESS")).toBe("192.168.87.132");
        expect(h.varOf(h.scriptOf(h.byName("overlay-swarm-join-app2").inputs, "delete"), "MARKER")).toBe("swarm-joined");
        expect(h.declaredNamed("overlay-swarm-join-app2").dependsOn).toEqual(["overlay-swarm-tokens", "overlay-app2-facts"]);
    });

    it("keeps join tokens secret: stdout of the token command and every join command", async () => {
        const tokens = h.declaredNamed("overlay-swarm-tokens");
        // @pulumi/command adds "connection" itself; we add "stdout".
        expect(tokens.additionalSecretOutputs).toEqual(["stdout", "connection"]);
        expect(h.byName("overlay-swarm-tokens").inputs.logging).toBe("none");
        // The join script (on stdin) carries the token, so the engine must store stdin encrypted;
        // the command line is the fixed one and holds no token.
        for (const name of ["overlay-swarm-join-app2", "overlay-swarm-join-app3"]) {
            const cmd = h.declaredNamed(name).resource as unknown as { stdin: import("@pulumi/pulumi").Output<string> };
            expect((await h.settle(cmd.stdin)).secret).toBe(true);
            expect(JSON.stringify([h.byName(name).inputs.create, h.byName(name).inputs.delete])).not.toContain("SWMTKN");
            expect(h.byName(name).inputs.addPreviousOutputInEnv).toBe(false);
        }
    });

    it("creates an attachable overlay once the swarm exists, with the MTU option; each service after its host joined", () => {
        const net = h.byName("overlay-net-network");
        expect(net.inputs).toMatchObject({
            name: "prod_overlay",
            driver: "overlay",
            attachable: true,
            ipamConfigs: [{ subnet: "10.31.0.0/22", gateway: "10.31.0.1" }],
            options: { "com.docker.network.driver.mtu": "1450" },
            labels: [{ label: "docker-overlay.options", value: '{"com.docker.network.driver.mtu":"1450"}' }],
        });
        expect(net.provider).toMatch(/overlay-app1-docker/);
        expect(h.declaredNamed("overlay-net-network").dependsOn).toEqual(["overlay-swarm-init-app1"]);
        expect(h.declaredNamed("overlay-svc-api").dependsOn).toEqual(["overlay-net", "overlay-swarm-join-app2"]);
        expect(h.declaredNamed("overlay-connectivity-probe-app3").dependsOn).toEqual(["overlay-swarm-join-app3"]);
    });

    it("has no rejoin, and no label on the containers of hosts that never left the swarm (the rejoin is kv mode's)", () => {
        expect(h.recorded.filter((r) => r.name.includes("rejoin"))).toEqual([]);
        for (const r of h.recorded.filter((x) => x.type === "docker:index/container:Container" && !x.name.endsWith("-app3"))) expect(r.inputs.labels, r.name).toBeUndefined();
    });

    it("runs the service with its aliases from a local image (pull: false)", () => {
        const c = h.byName("overlay-svc-api-container");
        expect(c.inputs.image).toBe("traefik/whoami:v1.10");
        expect(c.inputs.networksAdvanced).toEqual([{ name: "prod_overlay", aliases: ["api.internal"] }]);
        expect(c.provider).toMatch(/overlay-app2-docker/);
    });

    it("exports no KV URL and no Consul UI in swarm mode", async () => {
        expect((await h.settle(built.cluster.kvUrl)).value).toBeUndefined();
        expect((await h.settle(built.cluster.consulUiUrl)).value).toBeUndefined();
    });
});
