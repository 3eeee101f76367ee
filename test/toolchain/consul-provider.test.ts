// Upstream pulumi-resource-consul 3.15.1 (Terraform's consul provider through the bridge, built
// by toolchain/build-upstream.sh), run for real through the Automation API with inline programs
// that use @pulumi/consul as the project does (components/consulRegistry.ts,
// components/service.ts), against a real Consul server: the toolchain's Consul 1.14.11 in -dev
// mode on 127.0.0.1 with ACLs on (default deny), so every request must carry the token.
// - KeyPrefix: create, a no-op up that writes nothing, update (a subkey changed, one removed),
//   refresh finding drift made behind Pulumi's back, up repairing it, destroy removing only its
//   own keys;
// - Node and Service: catalog register, update, drift (a changed port, a deregistered service),
//   deregister;
// - Keys: create/update/delete honouring `delete`;
// - the ACL token: never in the engine's output, encrypted in the state; a refused token and an
//   unreachable Consul fail with what Consul or the network said.
// Local file backend, plugin downloads off, the toolchain's bin dir first on PATH.
//
// Run after the toolchain is installed:
//   npx vitest run test/toolchain/consul-provider.test.ts
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as consul from "@pulumi/consul";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, type EngineEvent, type Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./ports";
import { consulBinary, startConsul, type RealConsul } from "./realConsul";

const REPO = path.join(__dirname, "..", "..");
const PKG = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
};
const CONSUL_VERSION = PKG.dependencies["@pulumi/consul"]!;
/** The management token of the test's Consul (ACLs default deny); it must never appear in clear. */
const TOKEN = `tok-${process.pid}-5b0c2a77e1d94f3c`;

/** The toolchain's bin dir: DOCKER_OVERLAY_TOOLCHAIN_BIN (env.sh) or what toolchain/lib.sh says. */
function toolchainBin(): string {
    if (process.env.DOCKER_OVERLAY_TOOLCHAIN_BIN) {
        return process.env.DOCKER_OVERLAY_TOOLCHAIN_BIN;
    }
    return execFileSync("bash", ["-c", 'source toolchain/lib.sh && tc_load_pins && tc_paths && printf %s "$TC_BIN"'], {
        cwd: REPO,
        encoding: "utf8",
    });
}

const BIN = toolchainBin();
let tmp = "";
let env: Record<string, string> = {};
let server: RealConsul;
const stacks: Stack[] = [];
type Program = () => Promise<Record<string, unknown> | void>;

interface Run {
    ok: boolean;
    /** What the CLI printed (the engine's display). */
    cli: string;
    outputs: Record<string, { value: unknown; secret: boolean }>;
    /** The CLI's output, every engine event (JSON) and the error message, for searching. */
    text: string;
    error: string;
    events: EngineEvent[];
    summary: Record<string, number>;
}

async function stackOf(name: string, program: Program): Promise<Stack> {
    const workDir = path.join(tmp, "work", name);
    fs.mkdirSync(workDir, { recursive: true });
    const stack = await LocalWorkspace.createOrSelectStack(
        { stackName: name, projectName: `consulprov-${name}`, program },
        { workDir, envVars: env, pulumiHome: env.PULUMI_HOME },
    );
    if (!stacks.find((s) => s.name === name)) {
        stacks.push(stack);
    }
    return stack;
}

async function run(name: string, program: Program, op: "up" | "refresh" | "destroy" | "preview"): Promise<Run> {
    const stack = await stackOf(name, program);
    const events: EngineEvent[] = [];
    const out: string[] = [];
    const opts = { color: "never" as const, onEvent: (e: EngineEvent) => events.push(e), onOutput: (s: string) => out.push(s) };
    const text = () => out.join("") + JSON.stringify(events);
    try {
        let outputs: Run["outputs"] = {};
        let summary: Record<string, number> = {};
        if (op === "up") {
            const r = await stack.up(opts);
            outputs = r.outputs;
            summary = (r.summary.resourceChanges ?? {}) as Record<string, number>;
        } else if (op === "refresh") {
            const r = await stack.refresh(opts);
            summary = (r.summary.resourceChanges ?? {}) as Record<string, number>;
        } else if (op === "preview") {
            const r = await stack.preview(opts);
            summary = r.changeSummary as Record<string, number>;
        } else {
            const r = await stack.destroy(opts);
            summary = (r.summary.resourceChanges ?? {}) as Record<string, number>;
        }
        return { ok: true, cli: out.join(""), outputs, events, error: "", text: text(), summary };
    } catch (e) {
        const error = String((e as Error).message ?? e);
        return { ok: false, cli: out.join(""), outputs: {}, events, error, text: text() + error, summary: {} };
    }
}

/** The operations the engine did on resources of TYPE, in order ("create", "update", ...). */
function ops(r: Run, type: string): string[] {
    return r.events
        .flatMap((e) => (e.resOutputsEvent ? [e.resOutputsEvent.metadata] : []))
        .filter((m) => m.type === type)
        .map((m) => String(m.op));
}

/**
 * Where SECRET shows in a run's output: the CLI's display, the error, or any engine event,
 * except one kind that the provider cannot influence: @pulumi/pulumi's own debug diagnostic
 * "RegisterResource RPC finished: ... resp: ..." (runtime/resource.js), which prints every
 * registered resource's outputs, a provider's inputs with its secret token among them, at debug
 * severity (shown only with --debug); docs/toolchain.md notes it.
 */
function leaks(r: Run, secret: string): string[] {
    const found: string[] = [];
    if (r.cli.includes(secret)) {
        found.push("CLI output");
    }
    if (r.error.includes(secret)) {
        found.push("error");
    }
    for (const e of r.events) {
        const j = JSON.stringify(e);
        if (!j.includes(secret)) {
            continue;
        }
        const d = e.diagnosticEvent;
        if (d && (d.severity as string) === "debug" && d.message.startsWith("RegisterResource RPC finished: ")) {
            continue;
        }
        found.push(j.slice(0, 300));
    }
    return found;
}

/** The stack's state as `pulumi stack export` gives it (secrets encrypted). */
async function exported(name: string): Promise<{ text: string; resources: { type: string; outputs?: Record<string, unknown> }[] }> {
    const stack = await stackOf(name, async () => {});
    const d = (await stack.exportStack()).deployment as { resources: { type: string; outputs?: Record<string, unknown> }[] };
    return { text: JSON.stringify(d), resources: d.resources };
}

function provider(name: string, address = server.address, token: string = TOKEN): consul.Provider {
    return new consul.Provider(name, { address, scheme: "http", token: pulumi.secret(token) });
}

beforeAll(async () => {
    const missing = ["pulumi", "pulumi-language-nodejs", "pulumi-resource-consul"].filter((b) => !fs.existsSync(path.join(BIN, b)));
    if (missing.length > 0) {
        throw new Error(`not in the toolchain bin dir ${BIN}: ${missing.join(", ")}; run \`npm run toolchain\``);
    }
    const version = spawnSync(path.join(BIN, "pulumi-resource-consul"), ["-version"], { encoding: "utf8" });
    expect(version.stdout.trim()).toBe(CONSUL_VERSION);
    const m = spawnSync("go", ["version", "-m", path.join(BIN, "pulumi-resource-consul")], { encoding: "utf8" });
    expect(m.stdout, "upstream's module").toMatch(/\tmod\tgithub\.com\/pulumi\/pulumi-consul\/provider\/v3\t/);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dotc-consulprov-"));
    const state = path.join(tmp, "state");
    fs.mkdirSync(state);
    fs.mkdirSync(path.join(tmp, "pulumi-home"));
    env = {
        PULUMI_BACKEND_URL: `file://${state}`,
        PULUMI_CONFIG_PASSPHRASE: "consul-provider-test",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_HOME: path.join(tmp, "pulumi-home"),
        PATH: `${BIN}:${process.env.PATH ?? ""}`,
    };
    // The inline program's engine is started by the Automation API with this process's PATH.
    process.env.PATH = env.PATH;
    process.env.PULUMI_BACKEND_URL = env.PULUMI_BACKEND_URL;
    process.env.PULUMI_CONFIG_PASSPHRASE = env.PULUMI_CONFIG_PASSPHRASE;
    server = await startConsul(consulBinary(REPO), path.join(tmp, "consul"), TOKEN);
}, 60_000);

afterAll(async () => {
    for (const s of stacks) {
        await s.workspace.removeStack(s.name, { force: true }).catch(() => undefined);
    }
    await server?.stop();
    if (tmp) {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}, 120_000);

describe("consul:index/keyPrefix:KeyPrefix", () => {
    const PREFIX = "docker-overlay/test/";
    const program = (subkeys: Record<string, string>) => async () => {
        const p = provider("kv");
        const kp = new consul.KeyPrefix("record", { pathPrefix: PREFIX, subkeys, subkeyCollection: [{ path: "flagged", value: "f", flags: 42 }] }, { provider: p });
        return { datacenter: kp.datacenter, subkeys: kp.subkeys };
    };
    const runs: Run[] = [];

    it("create writes every subkey (with flags), through ACLs with the token, and records the datacenter", async () => {
        await server.put("someone-else/config", "keep me");
        const r = await run("keyprefix", program({ a: "1", b: "2", c: "3" }), "up");
        runs.push(r);
        expect(r.error).toBe("");
        expect(ops(r, "consul:index/keyPrefix:KeyPrefix")).toEqual(["create"]);
        expect(await server.kvUnder(PREFIX)).toEqual([
            [`${PREFIX}a`, "1"],
            [`${PREFIX}b`, "2"],
            [`${PREFIX}c`, "3"],
            [`${PREFIX}flagged`, "f"],
        ]);
        const flagged = JSON.parse((await server.api("GET", `/v1/kv/${PREFIX}flagged`)).text) as { Flags: number }[];
        expect(flagged[0]!.Flags).toBe(42);
        expect(r.outputs.datacenter?.value).toBe("dc1");
        // Without the token, Consul refuses (so the provider did send it).
        expect((await server.api("GET", `/v1/kv/${PREFIX}a`, undefined, "")).status).toBe(403);
    }, 180_000);

    it("a second up with the same inputs changes nothing and writes nothing", async () => {
        const before = await Promise.all(["a", "b", "c", "flagged"].map((k) => server.modifyIndex(`${PREFIX}${k}`)));
        const r = await run("keyprefix", program({ a: "1", b: "2", c: "3" }), "up");
        runs.push(r);
        expect(ops(r, "consul:index/keyPrefix:KeyPrefix")).toEqual(["same"]);
        expect(await Promise.all(["a", "b", "c", "flagged"].map((k) => server.modifyIndex(`${PREFIX}${k}`)))).toEqual(before);
    }, 180_000);

    it("update writes the changed subkey and deletes the removed one, and leaves the others as they were", async () => {
        const untouched = await server.modifyIndex(`${PREFIX}a`);
        const r = await run("keyprefix", program({ a: "1", b: "20" }), "up");
        runs.push(r);
        expect(r.error).toBe("");
        expect(ops(r, "consul:index/keyPrefix:KeyPrefix")).toEqual(["update"]);
        expect(await server.kvUnder(PREFIX)).toEqual([
            [`${PREFIX}a`, "1"],
            [`${PREFIX}b`, "20"],
            [`${PREFIX}flagged`, "f"],
        ]);
        expect(await server.modifyIndex(`${PREFIX}a`)).toBe(untouched);
    }, 180_000);

    it("refresh finds drift made behind Pulumi's back; the next up repairs it", async () => {
        await server.put(`${PREFIX}b`, "tampered");
        await server.put(`${PREFIX}intruder`, "x");
        let r = await run("keyprefix", program({ a: "1", b: "20" }), "refresh");
        runs.push(r);
        expect(r.error).toBe("");
        expect(r.summary.update).toBe(1);
        const state = await exported("keyprefix");
        const kp = state.resources.find((x) => x.type === "consul:index/keyPrefix:KeyPrefix");
        expect(kp?.outputs?.subkeys).toEqual({ a: "1", b: "tampered", intruder: "x" });
        r = await run("keyprefix", program({ a: "1", b: "20" }), "preview");
        expect(r.summary.update).toBe(1);
        r = await run("keyprefix", program({ a: "1", b: "20" }), "up");
        runs.push(r);
        expect(ops(r, "consul:index/keyPrefix:KeyPrefix")).toEqual(["update"]);
        expect(await server.kvUnder(PREFIX)).toEqual([
            [`${PREFIX}a`, "1"],
            [`${PREFIX}b`, "20"],
            [`${PREFIX}flagged`, "f"],
        ]);
        r = await run("keyprefix", program({ a: "1", b: "20" }), "refresh");
        expect(r.summary.update ?? 0).toBe(0);
    }, 300_000);

    it("the token is never in the engine's output and only encrypted in the state", async () => {
        expect(runs.length).toBeGreaterThanOrEqual(5);
        for (const r of runs) expect(leaks(r, TOKEN)).toEqual([]);
        const cli = execFileSync("pulumi", ["stack", "export", "--stack", "keyprefix", "--cwd", path.join(tmp, "work", "keyprefix")], {
            encoding: "utf8",
            env: { ...process.env, ...env },
        });
        expect(JSON.parse(cli).deployment.resources.find((x: { type: string }) => x.type === "pulumi:providers:consul").inputs.token).toMatchObject({
            "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
            ciphertext: expect.any(String),
        });
        expect(cli).not.toContain(TOKEN);
    }, 120_000);

    it("destroy removes every key of its prefix and nothing else", async () => {
        const r = await run("keyprefix", program({ a: "1", b: "20" }), "destroy");
        expect(r.error).toBe("");
        expect(leaks(r, TOKEN)).toEqual([]);
        expect(await server.kvUnder(PREFIX)).toEqual([]);
        expect(await server.kvUnder("someone-else/")).toEqual([["someone-else/config", "keep me"]]);
    }, 180_000);

    it("(upstream) create refuses a prefix that already holds keys, writing nothing", async () => {
        await server.put("taken/k", "v");
        const r = await run("keyprefix-taken", async () => {
            new consul.KeyPrefix("taken", { pathPrefix: "taken/", subkeys: { a: "1" } }, { provider: provider("kv") });
        }, "up");
        expect(r.ok).toBe(false);
        // Terraform's own words, through the bridge.
        expect(r.error).toContain("1 keys already exist under taken/; delete them before managing this prefix with Terraform");
        expect(await server.kvUnder("taken/")).toEqual([["taken/k", "v"]]);
        await server.del("taken/k");
    }, 180_000);
});

describe("consul:index/node:Node and consul:index/service:Service", () => {
    const program = (port: number, meta: Record<string, string>) => async () => {
        const p = provider("catalog");
        const node = new consul.Node("node", { name: "kv-overlay", address: "10.210.0.11", meta }, { provider: p });
        const svc = new consul.Service("registration", { name: "web", node: node.name, address: "10.0.9.2", port, tags: ["docker-overlay"] }, { provider: p });
        return { nodeId: node.id, serviceId: svc.serviceId, serviceDc: svc.datacenter };
    };

    it("registers the node and its service", async () => {
        const r = await run("catalog", program(80, { rack: "r1" }), "up");
        expect(r.error).toBe("");
        expect(r.outputs.serviceId?.value).toBe("web");
        expect(r.outputs.serviceDc?.value).toBe("dc1");
        const n = await server.node("kv-overlay");
        expect(n?.Address).toBe("10.210.0.11");
        expect(n?.Meta).toMatchObject({ rack: "r1" });
        expect(n?.services.web).toMatchObject({ Service: "web", Address: "10.0.9.2", Port: 80, Tags: ["docker-overlay"] });
    }, 180_000);

    it("updates the service's port and the node's meta", async () => {
        const r = await run("catalog", program(8080, { rack: "r2" }), "up");
        expect(r.error).toBe("");
        expect(ops(r, "consul:index/service:Service")).toEqual(["update"]);
        expect((await server.node("kv-overlay"))?.services.web?.Port).toBe(8080);
        expect((await server.node("kv-overlay"))?.Meta).toMatchObject({ rack: "r2" });
    }, 180_000);

    it("refresh finds a changed port and a deregistered service; up puts them back", async () => {
        const reregister = (port: number) =>
            server.api("PUT", "/v1/catalog/register", JSON.stringify({ Node: "kv-overlay", Address: "10.210.0.11", SkipNodeUpdate: true, Service: { ID: "web", Service: "web", Address: "10.0.9.2", Port: port, Tags: ["docker-overlay"] } }));
        expect((await reregister(9999)).text).toBe("true");
        let r = await run("catalog", program(8080, { rack: "r2" }), "refresh");
        expect(r.error).toBe("");
        expect(r.summary.update).toBe(1);
        r = await run("catalog", program(8080, { rack: "r2" }), "up");
        expect(ops(r, "consul:index/service:Service")).toEqual(["update"]);
        expect((await server.node("kv-overlay"))?.services.web?.Port).toBe(8080);

        expect((await server.api("PUT", "/v1/catalog/deregister", JSON.stringify({ Node: "kv-overlay", ServiceID: "web" }))).text).toBe("true");
        r = await run("catalog", program(8080, { rack: "r2" }), "refresh");
        expect(r.error).toBe("");
        expect(r.summary.delete).toBe(1);
        r = await run("catalog", program(8080, { rack: "r2" }), "up");
        expect(ops(r, "consul:index/service:Service")).toEqual(["create"]);
        expect((await server.node("kv-overlay"))?.services.web?.Port).toBe(8080);
    }, 300_000);

    it("destroy deregisters the service and the node", async () => {
        const r = await run("catalog", program(8080, { rack: "r2" }), "destroy");
        expect(r.error).toBe("");
        expect(await server.node("kv-overlay")).toBeUndefined();
    }, 180_000);
});

describe("consul:index/keys:Keys", () => {
    const program = (value: string) => async () => {
        const k = new consul.Keys("keys", { keys: [{ path: "keys/managed", value, delete: true }, { path: "keys/keep", value: "stays" }] }, { provider: provider("keys") });
        return { paths: k.keys.apply((ks) => (ks ?? []).map((x) => x.path).sort()) };
    };

    it("writes the keys, updates a changed value, and deletes on destroy only those with delete: true", async () => {
        let r = await run("keys", program("v1"), "up");
        expect(r.error).toBe("");
        expect(r.outputs.paths?.value).toEqual(["keys/keep", "keys/managed"]);
        expect(await server.kvUnder("keys/")).toEqual([
            ["keys/keep", "stays"],
            ["keys/managed", "v1"],
        ]);
        r = await run("keys", program("v2"), "up");
        expect(ops(r, "consul:index/keys:Keys")).toEqual(["update"]);
        expect(await server.kvUnder("keys/managed")).toEqual([["keys/managed", "v2"]]);
        await server.put("keys/managed", "tampered");
        r = await run("keys", program("v2"), "refresh");
        expect(r.summary.update).toBe(1);
        r = await run("keys", program("v2"), "up");
        expect(await server.kvUnder("keys/managed")).toEqual([["keys/managed", "v2"]]);
        r = await run("keys", program("v2"), "destroy");
        expect(r.error).toBe("");
        expect(await server.kvUnder("keys/")).toEqual([["keys/keep", "stays"]]);
        await server.del("keys/keep");
    }, 300_000);
});

describe("errors", () => {
    it("an unreachable Consul fails with the address and the cause", async () => {
        const port = await freePort();
        const r = await run("unreachable", async () => {
            new consul.KeyPrefix("nowhere", { pathPrefix: "x/", subkeys: { a: "1" } }, { provider: provider("down", `127.0.0.1:${port}`) });
        }, "up");
        expect(r.ok).toBe(false);
        expect(r.error).toContain(`127.0.0.1:${port}`);
        expect(r.error).toMatch(/connection refused/);
        expect(leaks(r, TOKEN)).toEqual([]);
    }, 180_000);

    it("a refused token fails with Consul's answer, not the token", async () => {
        const wrong = `wrong-${TOKEN}`;
        const r = await run("badtoken", async () => {
            new consul.KeyPrefix("denied", { pathPrefix: "denied/", subkeys: { a: "1" } }, { provider: provider("bad", server.address, wrong) });
        }, "up");
        expect(r.ok).toBe(false);
        expect(r.error).toMatch(/403|ACL not found|Permission denied/);
        expect(leaks(r, wrong)).toEqual([]);
        expect(await server.kvUnder("denied/")).toEqual([]);
    }, 180_000);
});
