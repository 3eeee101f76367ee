// The program as the CLI runs it: config read from the stack, refusals before any resource,
// secrets required to be secret. Under mocks: nothing here touches a host.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import * as h from "./harness";

const NS = "docker-overlay";
const good: Record<string, string> = {
    [`${NS}:mode`]: "swarm",
    [`${NS}:hosts`]: JSON.stringify([
        { name: "a", address: "10.50.0.1", hostKey: h.HOST_KEY },
        { name: "b", address: "10.50.0.2", hostKey: h.HOST_KEY },
    ]),
    [`${NS}:network`]: JSON.stringify({ name: "net1", subnet: "10.60.0.0/24" }),
    [`${NS}:connectivity`]: JSON.stringify({ enabled: false }),
    // Mocks have no hosts to read: the preflight path with hosts is in the last describe below,
    // against closed loopback ports, and end to end in test/e2e/preflight.test.ts.
    [`${NS}:preflight`]: JSON.stringify({ enabled: false }),
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
        // Swarm mode without kv and with the check off: no kvUrl, consulUiUrl or connectivityReport
        // (an undefined output makes the engine print a warning).
        expect(Object.keys(outputs).sort()).toEqual(["hosts", "mode", "network", "serviceAddresses", "topology", "topologyDot"]);
        // The picture: both hosts, the swarm's manager, the overlay.
        const picture = (await h.settle(outputs.topology)).value as string;
        expect(picture).toMatch(/^flowchart LR\n/);
        expect(picture).toContain('subgraph host_a["a: 10.50.0.1');
        expect(picture).toContain("overlay net1");
        expect((await h.settle(outputs.topologyDot)).value).toMatch(/^digraph topology \{\n[\s\S]*subgraph cluster_host_a \{/);
        // The facts as they are after up: each host in the swarm now (read as "inactive" before the join).
        expect((await h.settle(outputs.hosts)).value).toEqual({ a: { ...h.FACTS("a", 1), swarmState: "active" }, b: { ...h.FACTS("b", 1), swarmState: "active" } });
        // The key was read as a secret: every connection carrying it is secret.
        const reachable = h.recorded.find((r) => r.name === "overlay-a-reachable");
        expect(reachable).toBeDefined();
    });
});

describe("preflight in the program", () => {
    afterEach(() => vi.restoreAllMocks());

    it("says in the preview that preflight was skipped when it is disabled", async () => {
        const info = vi.spyOn(pulumi.log, "info");
        await runWith(good, [`${NS}:sshPrivateKey`]);
        expect(info.mock.calls.map((c) => c[0])).toContain(
            "docker-overlay: preflight skipped (`preflight.enabled: false`): engines, hostnames, engine IDs, routes, MTU and VXLAN of the hosts were not checked",
        );
    });

    it("refuses a host whose key is pinned nowhere when preflight (which would show it) is off", async () => {
        const unpinned = { ...good, [`${NS}:hosts`]: JSON.stringify([{ name: "a", address: "10.50.0.1", hostKey: h.HOST_KEY }, { name: "b", address: "10.50.0.2" }]) };
        await h.quiesce();
        const before = h.recorded.length;
        const msg = await refusal(unpinned, [`${NS}:sshPrivateKey`]);
        expect(msg).toContain("`docker-overlay:hosts[1].hostKey` is nothing and `ssh.knownHostsFile` is not set: host b's SSH key cannot be checked");
        expect(msg).not.toContain("hosts[0]");
        expect(h.recorded.slice(before)).toEqual([]);
    });

    it("takes the opt-out for labs, and says on every run which hosts go unchecked", async () => {
        const warn = vi.spyOn(pulumi.log, "warn");
        const hosts = JSON.stringify([{ name: "a", address: "10.50.0.1", hostKey: h.HOST_KEY }, { name: "b", address: "10.50.0.2" }]);
        const outputs = await runWith({ ...good, [`${NS}:hosts`]: hosts, [`${NS}:ssh`]: JSON.stringify({ insecureAcceptAnyHostKey: true }) }, [`${NS}:sshPrivateKey`]);
        expect(outputs.mode).toBe("swarm");
        expect(warn.mock.calls.map((c) => String(c[0])).filter((m) => m.includes("INSECURE"))).toEqual([expect.stringMatching(/host keys of b are NOT checked/)]);
    });

    it("refuses `mode: auto` without preflight, which alone can read the engines", async () => {
        expect(await refusal({ ...good, [`${NS}:mode`]: "auto" }, [`${NS}:sshPrivateKey`])).toContain(
            '`docker-overlay:mode` is "auto": the choice needs the engines\' versions, which only preflight reads; with `preflight.enabled: false` set `mode: kv` or `mode: swarm`',
        );
    });

    it("fails the run before any resource when the private key cannot be used, without printing it", async () => {
        const config = { ...good, [`${NS}:preflight`]: JSON.stringify({ enabled: true, timeoutSeconds: 5 }) };
        await h.quiesce();
        const before = h.recorded.length;
        const msg = await refusal(config, [`${NS}:sshPrivateKey`]);
        expect(msg).toBe(
            "preflight found a problem with the hosts of Pulumi.dev.yaml; nothing was changed on any host:\n" +
                "  - `sshPrivateKey` cannot be used (Malformed OpenSSH private key), so no host was checked. Fix: store an unencrypted private key file's content: `pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`",
        );
        expect(h.recorded.slice(before).map((r) => r.name)).toEqual([]);
    });

    it("fails the run before any resource, naming every host it cannot reach", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "docker-overlay-key-"));
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "id")]);
        const key = fs.readFileSync(path.join(dir, "id"), "utf8");
        fs.rmSync(dir, { recursive: true, force: true });
        // Two loopback ports that were just closed: connections are refused at once.
        const closedPort = async () => {
            const server = net.createServer().listen(0, "127.0.0.1");
            await new Promise((r) => server.once("listening", r));
            const port = (server.address() as net.AddressInfo).port;
            await new Promise((r) => server.close(r));
            return port;
        };
        const [p1, p2] = [await closedPort(), await closedPort()];
        const config = {
            ...good,
            [`${NS}:hosts`]: JSON.stringify([
                { name: "a", address: "127.0.0.1", sshPort: p1 },
                { name: "b", address: "127.0.0.2", sshPort: p2 },
            ]),
            [`${NS}:preflight`]: JSON.stringify({ enabled: true, timeoutSeconds: 5 }),
            [`${NS}:sshPrivateKey`]: key,
        };
        await h.quiesce();
        const before = h.recorded.length;
        const msg = await refusal(config, [`${NS}:sshPrivateKey`]);
        expect(msg).toBe(
            "preflight found 2 problems with the hosts of Pulumi.dev.yaml; nothing was changed on any host:\n" +
                `  - host a (root@127.0.0.1:${p1}) cannot be reached over SSH: connect ECONNREFUSED 127.0.0.1:${p1}. Fix: check \`hosts[0].address\` and \`hosts[0].sshPort\`, that sshd runs there and that this machine can reach it; on a runner that cannot reach the hosts, set \`preflight.enabled: false\`\n` +
                `  - host b (root@127.0.0.2:${p2}) cannot be reached over SSH: connect ECONNREFUSED 127.0.0.2:${p2}. Fix: check \`hosts[1].address\` and \`hosts[1].sshPort\`, that sshd runs there and that this machine can reach it; on a runner that cannot reach the hosts, set \`preflight.enabled: false\``,
        );
        for (const line of key.split("\n").filter((l) => l.length >= 16)) expect(msg).not.toContain(line);
        expect(h.recorded.slice(before).map((r) => r.name)).toEqual([]);
    });
});
