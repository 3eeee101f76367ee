// A real Consul server for the toolchain tests: the toolchain's own Consul 1.14.11
// (DOCKER_OVERLAY_LAB_BIN/consul) in `-dev` mode on 127.0.0.1, on free ports, with ACLs on
// (default deny) and one management token, so that every request the provider makes must carry
// it. Helpers read and change its state through the HTTP API with that token.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { freePort } from "./ports";

export interface RealConsul {
    /** host:port of the HTTP API. */
    address: string;
    /** HTTP API call with the management token; returns status and body. */
    api(method: string, apiPath: string, body?: string, token?: string): Promise<{ status: number; text: string }>;
    /** The KV pairs under PREFIX, sorted, values decoded. */
    kvUnder(prefix: string): Promise<[string, string][]>;
    /** One key's ModifyIndex (undefined: no such key). */
    modifyIndex(key: string): Promise<number | undefined>;
    put(key: string, value: string): Promise<void>;
    del(key: string): Promise<void>;
    /** A catalog node with its services (undefined: not registered). */
    node(name: string): Promise<{ Address: string; Meta: Record<string, string>; services: Record<string, { Service: string; Address: string; Port: number; Tags: string[]; Meta: Record<string, string> }> } | undefined>;
    log(): string;
    stop(): Promise<void>;
}


/** The toolchain's consul binary: DOCKER_OVERLAY_LAB_BIN (env.sh) or what toolchain/lib.sh says. */
export function consulBinary(repo: string): string {
    const dir =
        process.env.DOCKER_OVERLAY_LAB_BIN ??
        execFileSync("bash", ["-c", 'source toolchain/lib.sh && tc_load_pins && tc_paths && printf %s "$TC_LAB_BIN"'], { cwd: repo, encoding: "utf8" });
    const bin = path.join(dir, "consul");
    if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run \`npm run toolchain\` (it builds Consul for the lab and these tests)`);
    return bin;
}

/** Starts Consul; with ACLs on (default deny) when TOKEN is given, the management token. */
export async function startConsul(bin: string, dir: string, token?: string): Promise<RealConsul> {
    fs.mkdirSync(dir, { recursive: true });
    const http = await freePort();
    const serfLan = await freePort();
    const server = await freePort();
    const config = {
        ...(token ? { acl: { enabled: true, default_policy: "deny", tokens: { initial_management: token } } } : {}),
        ports: { http, dns: -1, grpc: -1, grpc_tls: -1, serf_lan: serfLan, serf_wan: -1, server },
    };
    fs.writeFileSync(path.join(dir, "consul.json"), JSON.stringify(config), { mode: 0o600 });
    let log = "";
    const proc: ChildProcess = spawn(bin, ["agent", "-dev", "-config-file", path.join(dir, "consul.json"), "-bind", "127.0.0.1", "-client", "127.0.0.1"], {
        stdio: ["ignore", "pipe", "pipe"],
    });
    proc.stdout!.on("data", (d: Buffer) => (log += d.toString()));
    proc.stderr!.on("data", (d: Buffer) => (log += d.toString()));
    const address = `127.0.0.1:${http}`;

    const api: RealConsul["api"] = async (method, apiPath, body, tok = token) => {
        const res = await fetch(`http://${address}${apiPath}`, {
            method,
            ...(tok ? { headers: { "X-Consul-Token": tok } } : {}),
            ...(body !== undefined ? { body } : {}),
            signal: AbortSignal.timeout(10_000),
        });
        return { status: res.status, text: (await res.text()).trim() };
    };

    // Ready: a leader, and the management token accepted.
    const deadline = Date.now() + 30_000;
    for (;;) {
        const ok = await api("GET", "/v1/kv/?keys").then(
            (r) => r.status === 200 || r.status === 404,
            () => false,
        );
        if (ok) break;
        if (proc.exitCode !== null || Date.now() > deadline) {
            proc.kill();
            throw new Error(`Consul did not start on ${address}:\n${log.slice(-3000)}`);
        }
        await new Promise((r) => setTimeout(r, 200));
    }

    const kvList = async (prefix: string) => {
        const r = await api("GET", `/v1/kv/${prefix}?recurse=true`);
        if (r.status === 404) return [] as { Key: string; Value: string | null; ModifyIndex: number }[];
        if (r.status !== 200) throw new Error(`GET /v1/kv/${prefix}: HTTP ${r.status}: ${r.text}`);
        return JSON.parse(r.text) as { Key: string; Value: string | null; ModifyIndex: number }[];
    };
    return {
        address,
        api,
        kvUnder: async (prefix) =>
            (await kvList(prefix)).map((p): [string, string] => [p.Key, p.Value === null ? "" : Buffer.from(p.Value, "base64").toString("utf8")]).sort((a, b) => a[0].localeCompare(b[0])),
        modifyIndex: async (key) => (await kvList(key)).find((p) => p.Key === key)?.ModifyIndex,
        put: async (key, value) => {
            const r = await api("PUT", `/v1/kv/${key}`, value);
            if (r.text.trim() !== "true") throw new Error(`PUT /v1/kv/${key}: HTTP ${r.status}: ${r.text}`);
        },
        del: async (key) => {
            await api("DELETE", `/v1/kv/${key}`);
        },
        node: async (name) => {
            const r = await api("GET", `/v1/catalog/node/${name}`);
            if (r.status !== 200) throw new Error(`GET /v1/catalog/node/${name}: HTTP ${r.status}: ${r.text}`);
            const n = JSON.parse(r.text) as { Node: { Address: string; Meta: Record<string, string> } | null; Services: Record<string, never> } | null;
            if (!n?.Node) return undefined;
            return { Address: n.Node.Address, Meta: n.Node.Meta ?? {}, services: n.Services ?? {} };
        },
        log: () => log,
        stop: () =>
            new Promise<void>((resolve) => {
                if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
                proc.once("exit", () => resolve());
                proc.kill("SIGTERM");
            }),
    };
}
