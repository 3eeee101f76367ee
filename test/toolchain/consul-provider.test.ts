// Real Pulumi runs of docker-overlay's own pulumi-resource-consul (toolchain/go/consul,
// docs/consul-provider.md) through the Automation API, with inline programs that use
// @pulumi/consul 3.15.1 as the project does (components/kvStore.ts, components/service.ts),
// against the fake Consul HTTP API of fakeConsul.ts on 127.0.0.1 (no Consul can run here):
// - KeyPrefix: create, update (a subkey changed, one removed), refresh finding drift made
//   behind Pulumi's back, up repairing it, destroy leaving nothing;
// - Node and Service: catalog register, update, drift, deregister;
// - Keys: create/update/delete honouring `delete`;
// - the ACL token: sent as X-Consul-Token, never in the engine's output, encrypted in the state;
// - clear errors: unreachable Consul, a refused token, health checks.
// Local file backend, plugin downloads off, the toolchain's bin dir first on PATH.
//
// Run after the toolchain is installed:
//   npx vitest run test/toolchain/consul-provider.test.ts
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as consul from "@pulumi/consul";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, type EngineEvent, type Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeConsul, type FakeConsul } from "./fakeConsul";

const REPO = path.join(__dirname, "..", "..");
const PKG = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
};
const CONSUL_VERSION = PKG.dependencies["@pulumi/consul"]!;
/** The ACL token the fake demands; it must never appear in clear outside Consul's requests. */
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
let fake: FakeConsul;
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
 * severity (shown only with --debug). docs/consul-provider.md says so.
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

/** The KV pairs under PREFIX, sorted. */
function kvUnder(prefix: string): [string, string][] {
    return [...fake.kv.entries()].filter(([k]) => k.startsWith(prefix)).sort((a, b) => a[0].localeCompare(b[0]));
}

/** Requests to the fake made after MARK (an index into fake.details). */
function since(mark: number) {
    return fake.details.slice(mark);
}

function provider(name: string, address = fake.address, token: string = TOKEN): consul.Provider {
    return new consul.Provider(name, { address, scheme: "http", token: pulumi.secret(token) });
}

async function closedPort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const port = (srv.address() as net.AddressInfo).port;
            srv.close(() => resolve(port));
        });
    });
}

beforeAll(async () => {
    const missing = ["pulumi", "pulumi-language-nodejs", "pulumi-resource-consul"].filter((b) => !fs.existsSync(path.join(BIN, b)));
    if (missing.length > 0) {
        throw new Error(`not in the toolchain bin dir ${BIN}: ${missing.join(", ")}; run \`npm run toolchain\``);
    }
    const version = spawnSync(path.join(BIN, "pulumi-resource-consul"), ["-version"], { encoding: "utf8" });
    expect(version.stdout.trim()).toBe(CONSUL_VERSION);
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
    fake = await startFakeConsul("dc1", { token: TOKEN });
}, 60_000);

afterAll(async () => {
    for (const s of stacks) {
        await s.workspace.removeStack(s.name, { force: true }).catch(() => undefined);
    }
    await fake?.close();
    if (tmp) {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}, 120_000);

describe("consul:index/keyPrefix:KeyPrefix", () => {
    const PREFIX = "docker-overlay/test/";
    const program = (subkeys: Record<string, string>) => async () => {
        const p = provider("kv");
        const kp = new consul.KeyPrefix(
            "record",
            {
                pathPrefix: PREFIX,
                subkeys,
                subkeyCollection: [{ path: "flagged", value: "f", flags: 42 }],
            },
            { provider: p },
        );
        return { datacenter: kp.datacenter, subkeys: kp.subkeys };
    };
    const runs: Run[] = [];

    it("create writes every subkey, with the token, and records the agent's datacenter", async () => {
        const mark = fake.details.length;
        const r = await run("keyprefix", program({ a: "1", b: "2", c: "3" }), "up");
        runs.push(r);
        expect(r.error).toBe("");
        expect(ops(r, "consul:index/keyPrefix:KeyPrefix")).toEqual(["create"]);
        expect(kvUnder(PREFIX)).toEqual([
            [`${PREFIX}a`, "1"],
            [`${PREFIX}b`, "2"],
            [`${PREFIX}c`, "3"],
            [`${PREFIX}flagged`, "f"],
        ]);
        const flagged = since(mark).find((d) => d.method === "PUT" && d.path === `/v1/kv/${PREFIX}flagged`);
        expect(flagged?.query).toContain("flags=42");
        expect(r.outputs.datacenter?.value).toBe("dc1");
        // Every request carried the token in X-Consul-Token (the fake refuses others with 403).
        expect(since(mark).length).toBeGreaterThan(4);
        expect(since(mark).every((d) => d.token === TOKEN)).toBe(true);
        expect(since(mark).some((d) => d.query.includes(TOKEN) || d.path.includes(TOKEN))).toBe(false);
    }, 180_000);

    it("a second up with the same inputs changes nothing and writes nothing", async () => {
        const mark = fake.details.length;
        const r = await run("keyprefix", program({ a: "1", b: "2", c: "3" }), "up");
        runs.push(r);
        expect(ops(r, "consul:index/keyPrefix:KeyPrefix")).toEqual(["same"]);
        expect(since(mark).filter((d) => d.method !== "GET")).toEqual([]);
    }, 180_000);

    it("update writes the changed subkey and deletes the removed one, nothing else", async () => {
        const mark = fake.details.length;
        const r = await run("keyprefix", program({ a: "1", b: "20" }), "up");
        runs.push(r);
        expect(r.error).toBe("");
        expect(ops(r, "consul:index/keyPrefix:KeyPrefix")).toEqual(["update"]);
        expect(kvUnder(PREFIX)).toEqual([
            [`${PREFIX}a`, "1"],
            [`${PREFIX}b`, "20"],
            [`${PREFIX}flagged`, "f"],
        ]);
        const writes = since(mark)
            .filter((d) => d.method !== "GET")
            .map((d) => `${d.method} ${d.path}${d.query} ${d.body}`);
        // In the datacenter the agent reported (the provider sets none).
        expect(writes).toEqual([`PUT /v1/kv/${PREFIX}b?dc=dc1 20`, `DELETE /v1/kv/${PREFIX}c?dc=dc1 `]);
    }, 180_000);

    it("refresh finds drift made behind Pulumi's back; the next up repairs it", async () => {
        fake.kv.set(`${PREFIX}b`, "tampered");
        fake.kv.set(`${PREFIX}intruder`, "x");
        let r = await run("keyprefix", program({ a: "1", b: "20" }), "refresh");
        runs.push(r);
        expect(r.error).toBe("");
        expect(r.summary.update).toBe(1);
        const state = await exported("keyprefix");
        const kp = state.resources.find((x) => x.type === "consul:index/keyPrefix:KeyPrefix");
        expect(kp?.outputs?.subkeys).toEqual({ a: "1", b: "tampered", intruder: "x" });
        // Preview now shows the repair; up does it.
        r = await run("keyprefix", program({ a: "1", b: "20" }), "preview");
        expect(r.summary.update).toBe(1);
        r = await run("keyprefix", program({ a: "1", b: "20" }), "up");
        runs.push(r);
        expect(ops(r, "consul:index/keyPrefix:KeyPrefix")).toEqual(["update"]);
        expect(kvUnder(PREFIX)).toEqual([
            [`${PREFIX}a`, "1"],
            [`${PREFIX}b`, "20"],
            [`${PREFIX}flagged`, "f"],
        ]);
        // And a refresh after that finds nothing.
        r = await run("keyprefix", program({ a: "1", b: "20" }), "refresh");
        expect(r.summary.update ?? 0).toBe(0);
    }, 300_000);

    it("the token is never in the engine's output and only encrypted in the state", async () => {
        expect(runs.length).toBeGreaterThanOrEqual(5);
        for (const r of runs) {
            expect(leaks(r, TOKEN)).toEqual([]);
        }
        // The Automation API's export decrypts secrets (it runs `stack export --show-secrets`), but
        // still marks them: the provider's token input and output are secrets.
        const state = await exported("keyprefix");
        const prov = state.resources.find((x) => x.type === "pulumi:providers:consul") as
            | { inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }
            | undefined;
        for (const t of [prov?.inputs?.token, prov?.outputs?.token]) {
            expect(t).toMatchObject({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270" }); // Pulumi's secret signature
        }
        // `pulumi stack export` has it only as ciphertext.
        const cli = execFileSync("pulumi", ["stack", "export", "--stack", "keyprefix", "--cwd", path.join(tmp, "work", "keyprefix")], {
            encoding: "utf8",
            env: { ...process.env, ...env },
        });
        expect(JSON.parse(cli).deployment.resources.find((x: { type: string }) => x.type === "pulumi:providers:consul").inputs.token).toMatchObject({
            "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
            ciphertext: expect.any(String),
        });
        expect(cli).toContain("4dabf18193072939515e22adb298388d");
        expect(cli).not.toContain(TOKEN);
    }, 120_000);

    it("destroy removes every key under the prefix", async () => {
        const r = await run("keyprefix", program({ a: "1", b: "20" }), "destroy");
        expect(r.error).toBe("");
        expect(leaks(r, TOKEN)).toEqual([]);
        expect(kvUnder(PREFIX)).toEqual([]);
    }, 180_000);

    it("create refuses a prefix that already holds keys (as upstream)", async () => {
        fake.kv.set("taken/k", "v");
        const r = await run("keyprefix-taken", async () => {
            new consul.KeyPrefix("taken", { pathPrefix: "taken/", subkeys: { a: "1" } }, { provider: provider("kv") });
        }, "up");
        expect(r.ok).toBe(false);
        expect(r.error).toMatch(/1 keys already exist under "taken\/" in Consul at http:\/\/127\.0\.0\.1:\d+/);
        expect(fake.kv.get("taken/a")).toBeUndefined();
        fake.kv.delete("taken/k");
    }, 180_000);
});

describe("consul:index/node:Node and consul:index/service:Service", () => {
    const program = (port: number, meta: Record<string, string>) => async () => {
        const p = provider("catalog");
        const node = new consul.Node("node", { name: "kv-overlay", address: "10.210.0.11", meta }, { provider: p });
        const svc = new consul.Service(
            "registration",
            { name: "web", node: node.name, address: "10.0.9.2", port, tags: ["docker-overlay"] },
            { provider: p },
        );
        return { nodeId: node.id, serviceId: svc.serviceId, serviceDc: svc.datacenter };
    };

    it("registers the node and its service", async () => {
        const r = await run("catalog", program(80, { rack: "r1" }), "up");
        expect(r.error).toBe("");
        expect(r.outputs.nodeId?.value).toBe("kv-overlay-10.210.0.11");
        expect(r.outputs.serviceId?.value).toBe("web");
        expect(r.outputs.serviceDc?.value).toBe("dc1");
        const n = fake.nodes.get("kv-overlay");
        expect(n?.Address).toBe("10.210.0.11");
        expect(n?.Meta).toEqual({ rack: "r1" });
        const s = n?.services.get("web");
        expect(s).toMatchObject({ Service: "web", Address: "10.0.9.2", Port: 80, Tags: ["docker-overlay"] });
        expect(s?.Meta).toEqual({ "external-source": "terraform" });
    }, 180_000);

    it("updates the service's port and the node's meta in place", async () => {
        const r = await run("catalog", program(8080, { rack: "r2" }), "up");
        expect(r.error).toBe("");
        expect(ops(r, "consul:index/service:Service")).toEqual(["update"]);
        expect(ops(r, "consul:index/node:Node")).toEqual(["update"]);
        expect(fake.nodes.get("kv-overlay")?.services.get("web")?.Port).toBe(8080);
        expect(fake.nodes.get("kv-overlay")?.Meta).toEqual({ rack: "r2" });
    }, 180_000);

    it("refresh finds a changed port and a deregistered service; up puts them back", async () => {
        fake.nodes.get("kv-overlay")!.services.get("web")!.Port = 9999;
        let r = await run("catalog", program(8080, { rack: "r2" }), "refresh");
        expect(r.error).toBe("");
        expect(r.summary.update).toBe(1);
        r = await run("catalog", program(8080, { rack: "r2" }), "up");
        expect(ops(r, "consul:index/service:Service")).toEqual(["update"]);
        expect(fake.nodes.get("kv-overlay")?.services.get("web")?.Port).toBe(8080);

        fake.nodes.get("kv-overlay")!.services.delete("web");
        r = await run("catalog", program(8080, { rack: "r2" }), "refresh");
        expect(r.error).toBe("");
        expect(r.summary.delete).toBe(1);
        r = await run("catalog", program(8080, { rack: "r2" }), "up");
        expect(ops(r, "consul:index/service:Service")).toEqual(["create"]);
        expect(fake.nodes.get("kv-overlay")?.services.get("web")?.Port).toBe(8080);
    }, 300_000);

    it("destroy deregisters the service and the node", async () => {
        const r = await run("catalog", program(8080, { rack: "r2" }), "destroy");
        expect(r.error).toBe("");
        expect([...fake.nodes.keys()]).toEqual([]);
    }, 180_000);

    it("a service on a node Consul does not know fails clearly", async () => {
        const r = await run("catalog-nonode", async () => {
            new consul.Service("orphan", { name: "orphan", node: "no-such-node", port: 1 }, { provider: provider("catalog") });
        }, "up");
        expect(r.ok).toBe(false);
        expect(r.error).toMatch(/consul:index\/service:Service "orphan".*node "no-such-node" does not exist in the catalog of Consul at http:\/\/127\.0\.0\.1:\d+/s);
    }, 180_000);

    it("health checks are refused with a clear error", async () => {
        const r = await run("catalog-checks", async () => {
            new consul.Service(
                "checked",
                { name: "checked", node: "n", checks: [{ checkId: "c", name: "c", interval: "10s", timeout: "1s", tcp: "127.0.0.1:1" }] },
                { provider: provider("catalog") },
            );
        }, "up");
        expect(r.ok).toBe(false);
        expect(r.error).toContain("health checks are not supported by docker-overlay's consul provider");
        expect([...fake.nodes.keys()]).toEqual([]);
    }, 180_000);
});

describe("consul:index/keys:Keys", () => {
    const program = (value: string, keepPath = "keys/keep") => async () => {
        const k = new consul.Keys(
            "keys",
            {
                keys: [
                    { path: "keys/managed", value, delete: true },
                    { path: keepPath, value: "stays" },
                ],
            },
            { provider: provider("keys") },
        );
        return { paths: k.keys.apply((ks) => (ks ?? []).map((x) => x.path).sort()) };
    };

    it("writes the keys, updates a changed value, and deletes on destroy only those with delete: true", async () => {
        let r = await run("keys", program("v1"), "up");
        expect(r.error).toBe("");
        expect(r.outputs.paths?.value).toEqual(["keys/keep", "keys/managed"]);
        expect(kvUnder("keys/")).toEqual([
            ["keys/keep", "stays"],
            ["keys/managed", "v1"],
        ]);
        r = await run("keys", program("v2"), "up");
        expect(ops(r, "consul:index/keys:Keys")).toEqual(["update"]);
        expect(fake.kv.get("keys/managed")).toBe("v2");
        // Drift of a key's value shows on refresh.
        fake.kv.set("keys/managed", "tampered");
        r = await run("keys", program("v2"), "refresh");
        expect(r.summary.update).toBe(1);
        r = await run("keys", program("v2"), "up");
        expect(fake.kv.get("keys/managed")).toBe("v2");
        r = await run("keys", program("v2"), "destroy");
        expect(r.error).toBe("");
        // As upstream, a key without delete: true stays in Consul.
        expect(kvUnder("keys/")).toEqual([["keys/keep", "stays"]]);
        fake.kv.delete("keys/keep");
    }, 300_000);
});

describe("errors", () => {
    it("an unreachable Consul fails with the address and the cause", async () => {
        const port = await closedPort();
        const r = await run("unreachable", async () => {
            new consul.KeyPrefix("nowhere", { pathPrefix: "x/", subkeys: { a: "1" } }, { provider: provider("down", `127.0.0.1:${port}`) });
        }, "up");
        expect(r.ok).toBe(false);
        expect(r.error).toMatch(new RegExp(`creating consul:index/keyPrefix:KeyPrefix "nowhere": cannot reach Consul at http://127\\.0\\.0\\.1:${port}: .*connection refused`));
        expect(leaks(r, TOKEN)).toEqual([]);
    }, 180_000);

    it("a refused token fails with Consul's HTTP answer, not the token", async () => {
        const wrong = `wrong-${TOKEN}`;
        const r = await run("badtoken", async () => {
            new consul.KeyPrefix("denied", { pathPrefix: "denied/", subkeys: { a: "1" } }, { provider: provider("bad", fake.address, wrong) });
        }, "up");
        expect(r.ok).toBe(false);
        expect(r.error).toMatch(/creating consul:index\/keyPrefix:KeyPrefix "denied": listing the keys under "denied\/": Consul at http:\/\/127\.0\.0\.1:\d+ (\(datacenter dc1\) )?answered HTTP 403: Permission denied/);
        expect(leaks(r, wrong)).toEqual([]);
        expect(kvUnder("denied/")).toEqual([]);
    }, 180_000);
});
