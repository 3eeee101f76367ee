// The program as the CLI runs it: config read from the stack, refusals before any resource,
// secrets required to be secret. Under mocks: nothing here touches a host.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import * as h from "./harness";

const NS = "docker-overlay";
const good: Record<string, string> = {
    [`${NS}:mode`]: "swarm",
    [`${NS}:hosts`]: JSON.stringify([{ name: "a", address: "10.50.0.1" }, { name: "b", address: "10.50.0.2" }]),
    [`${NS}:network`]: JSON.stringify({ name: "net1", subnet: "10.60.0.0/24" }),
    [`${NS}:connectivity`]: JSON.stringify({ enabled: false }),
    [`${NS}:sshPrivateKey`]: h.PRIVATE_KEY,
};

function runWith(config: Record<string, string>, secretKeys: string[]) {
    pulumi.runtime.setAllConfig(config, secretKeys);
    return import("../../program").then((m) => m.main());
}

async function refusal(config: Record<string, string>, secretKeys: string[]): Promise<string> {
    try {
        await runWith(config, secretKeys);
    } catch (e) {
        expect(e).toBeInstanceOf(pulumi.RunError);
        return (e as Error).message;
    }
    throw new Error("expected the program to refuse this config");
}

beforeAll(async () => {
    await h.installMocks("dev");
});

describe("the program's reading of stack config", () => {
    it("refuses a plain-text private key, saying how to store it as a secret", async () => {
        const msg = await refusal(good, []);
        expect(msg).toContain("Pulumi.dev.yaml");
        expect(msg).toContain("`docker-overlay:sshPrivateKey` is stored in plain text: run `pulumi config rm sshPrivateKey`");
        expect(msg).not.toContain("mock-key-material");
    });

    it("refuses a missing private key", async () => {
        const { [`${NS}:sshPrivateKey`]: _drop, ...rest } = good;
        expect(await refusal(rest, [])).toContain("`docker-overlay:sshPrivateKey` is missing: `pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`");
    });

    it("names an unknown key from the stack file", async () => {
        expect(await refusal({ ...good, [`${NS}:netwrok`]: "{}" }, [`${NS}:sshPrivateKey`])).toContain("`docker-overlay:netwrok` is not a known key");
    });

    it("names a bad value inside structured config", async () => {
        const bad = { ...good, [`${NS}:network`]: JSON.stringify({ name: "net1", subnet: "10.60.0.0/24", gateway: "10.61.0.1" }) };
        expect(await refusal(bad, [`${NS}:sshPrivateKey`])).toContain("`docker-overlay:network.gateway` is \"10.61.0.1\": the gateway must lie inside `network.subnet` 10.60.0.0/24");
    });

    it("builds the stack from a good config and returns its outputs", async () => {
        const outputs = await runWith(good, [`${NS}:sshPrivateKey`]);
        expect(outputs.mode).toBe("swarm");
        expect(outputs.network).toBe("net1");
        expect(Object.keys(outputs).sort()).toEqual(["connectivityReport", "consulUiUrl", "hosts", "kvUrl", "mode", "network", "serviceAddresses"]);
        expect((await h.settle(outputs.hosts)).value).toEqual({ a: h.FACTS("a", 1), b: h.FACTS("b", 1) });
        // The key was read as a secret: every connection carrying it is secret.
        const reachable = h.recorded.find((r) => r.name === "overlay-a-reachable");
        expect(reachable).toBeDefined();
    });
});
