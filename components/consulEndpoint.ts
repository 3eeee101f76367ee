// Which Consul server the stack's Consul provider talks to. A cluster must not fail the stack when
// one server is down: the program asks each server, from where Pulumi runs (the provider's own
// path), whether it answers with a leader. It keeps the server the last `up` went through (the
// cluster's record in Consul names it) while that one answers, so that a server lost and back
// does not move the provider again (a preview after recovery shows no changes); otherwise the
// first that answers, in `kv.servers` order. The first server when none answers (before the
// first `up`, nothing runs yet) or when preflight is off.

import * as http from "node:http";
import * as https from "node:https";

/** The record's subkey (under `docker-overlay/<stack>/`) naming the server the last `up` went through; a cluster's only. */
export const REGISTRY_SERVER_KEY = "registryServer";

export interface ConsulServer {
    name: string;
    /** The address the provider uses: the host's `address` from the stack file. */
    address: string;
}

/** `kv.tls`: how the program speaks to Consul: HTTPS, trusting CA, presenting CERT and KEY (PEM). */
export interface ConsulClientTls {
    ca: string;
    cert: string;
    key: string;
}

/** GET PATH from Consul at address:port: the status and body, or undefined when nothing answered in time. */
function consulGet(address: string, port: number, path: string, opts: { token?: string; tls?: ConsulClientTls; timeoutMs: number }): Promise<{ status: number; body: string } | undefined> {
    const host = address.includes(":") ? `[${address}]` : address;
    const url = `${opts.tls ? "https" : "http"}://${host}:${port}${path}`;
    const headers = opts.token ? { "X-Consul-Token": opts.token } : {};
    return new Promise((resolve) => {
        const options = { headers, timeout: opts.timeoutMs, ...(opts.tls ? { ca: opts.tls.ca, cert: opts.tls.cert, key: opts.tls.key } : {}) };
        const req = (opts.tls ? https : http).get(url, options, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => (body += chunk));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
            res.on("error", () => resolve(undefined));
        });
        req.on("timeout", () => req.destroy());
        req.on("error", () => resolve(undefined));
    });
}

/** Asks Consul at address:port for its leader; true when it names one (within the timeout). */
export async function consulAnswers(address: string, port: number, opts: { tls?: ConsulClientTls; timeoutMs?: number } = {}): Promise<boolean> {
    const res = await consulGet(address, port, "/v1/status/leader", { timeoutMs: opts.timeoutMs ?? 3000, ...(opts.tls ? { tls: opts.tls } : {}) });
    return res !== undefined && res.status === 200 && /"[^"]+"/.test(res.body);
}

/** Reads one key's raw value from Consul's KV (undefined when absent, refused or unreachable). */
export async function consulKey(address: string, port: number, key: string, opts: { token?: string; tls?: ConsulClientTls; timeoutMs?: number } = {}): Promise<string | undefined> {
    const res = await consulGet(address, port, `/v1/kv/${key}?raw`, { timeoutMs: opts.timeoutMs ?? 3000, ...(opts.token ? { token: opts.token } : {}), ...(opts.tls ? { tls: opts.tls } : {}) });
    return res?.status === 200 ? res.body.trim() : undefined;
}

export interface ConsulServerChoice {
    server: ConsulServer;
    /** Servers that did not answer, before the chosen one in `kv.servers` order. */
    skipped: ConsulServer[];
    /** True when the server was kept because the last `up` went through it. */
    kept: boolean;
}

/**
 * The server LAST_USED names (asked through the first server that answers) while ASK says yes to
 * it; else the first server ASK says yes to; else the first server.
 */
export async function pickConsulServer(
    servers: readonly ConsulServer[],
    ask: (s: ConsulServer) => Promise<boolean>,
    lastUsed?: (via: ConsulServer) => Promise<string | undefined>,
): Promise<ConsulServerChoice> {
    if (servers.length === 0) throw new Error("docker-overlay: pickConsulServer needs at least one server");
    const answers = await Promise.all(servers.map((s) => ask(s)));
    const i = answers.indexOf(true);
    if (i < 0) return { server: servers[0]!, skipped: [], kept: false };
    const last = lastUsed ? await lastUsed(servers[i]!) : undefined;
    const k = servers.findIndex((s, j) => s.name === last && answers[j]);
    if (k >= 0) return { server: servers[k]!, skipped: servers.slice(0, k).filter((_, j) => !answers[j]), kept: true };
    return { server: servers[i]!, skipped: servers.slice(0, i), kept: false };
}
