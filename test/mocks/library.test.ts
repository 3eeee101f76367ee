// OverlayCluster as a library user builds it: settings in a program, no stack config, no
// preflight. Under mocks: nothing here touches a host (test/toolchain/package.test.ts previews
// the packed library through the CLI).
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import * as h from "./harness";

beforeAll(async () => {
    await h.installMocks("staging");
});

describe("OverlayCluster from a program's own settings", () => {
    it("refuses a bad setting before any child, with the stack file's problem line and no stack trace", async () => {
        const { OverlayCluster } = await import("../../components/overlayCluster");
        await h.quiesce();
        const before = h.recorded.length;
        let error: unknown;
        try {
            new OverlayCluster("edge", {
                mode: "swarm",
                hosts: [{ name: "a", address: "10.50.0.1", hostKey: h.HOST_KEY }],
                network: { subnet: "10.60.0.0/24", gateway: "10.61.0.1" },
                sshPrivateKey: pulumi.secret(h.PRIVATE_KEY),
            });
        } catch (e) {
            error = e;
        }
        expect(error).toBeInstanceOf(pulumi.ResourceError);
        expect((error as pulumi.ResourceError).hideStack).toBe(true);
        expect((error as Error).message).toBe(
            'OverlayCluster "edge" has a problem; nothing was changed on any host:\n' +
                '  - `docker-overlay:network.gateway` is "10.61.0.1": the gateway must lie inside `network.subnet` 10.60.0.0/24',
        );
        await h.quiesce();
        expect(h.recorded.slice(before).map((r) => r.type)).toEqual(["docker-overlay:cluster:OverlayCluster"]);
    });

    it("refuses `kv.tls` certificates the CA did not sign before any child (the program's preflight is not there to)", async () => {
        const { OverlayCluster } = await import("../../components/overlayCluster");
        const { makeTls } = await import("../fixtures/tls");
        const [a, b] = [makeTls({ san: ["IP:10.50.0.1"] }), makeTls({ san: ["IP:10.50.0.1"] })];
        await h.quiesce();
        const before = h.recorded.length;
        let error: unknown;
        try {
            new OverlayCluster("edge-tls", {
                mode: "kv",
                hosts: [{ name: "a", address: "10.50.0.1", hostKey: h.HOST_KEY }],
                kv: { host: "a", tls: { ca: a.ca, cert: b.cert } },
                sshPrivateKey: pulumi.secret(h.PRIVATE_KEY),
                consulTlsKey: pulumi.secret(b.key),
            });
        } catch (e) {
            error = e;
        }
        expect(error).toBeInstanceOf(pulumi.ResourceError);
        expect((error as Error).message).toMatch(/^OverlayCluster "edge-tls" has a problem; nothing was changed on any host:\n {2}- `docker-overlay:kv\.tls\.cert` was not signed by `kv\.tls\.ca`/);
        await h.quiesce();
        expect(h.recorded.slice(before).map((r) => r.type)).toEqual(["docker-overlay:cluster:OverlayCluster"]);
    });

    it("names the containers and the hosts' owner after the Pulumi stack when `stack` is not given", async () => {
        const { OverlayCluster } = await import("../../components/overlayCluster");
        const cluster = new OverlayCluster("overlay", {
            mode: "kv",
            hosts: [
                { name: "a", address: "10.50.0.1", hostKey: h.HOST_KEY },
                { name: "b", address: "10.50.0.2", hostKey: h.HOST_KEY },
            ],
            kv: { host: "a" },
            services: [{ name: "web", host: "b", image: "nginx:1.27" }],
            connectivity: { enabled: false },
            sshPrivateKey: pulumi.secret(h.PRIVATE_KEY),
        });
        await h.settle(cluster.serviceAddresses);
        await h.quiesce();
        expect(h.byName("overlay-kv-server").inputs.name).toBe("docker-overlay-staging-consul");
        expect(h.varOf(h.scriptOf(h.byName("overlay-b-daemon-config-apply").inputs), "OWNER")).toBe("docker-overlay/staging");
    });
});
