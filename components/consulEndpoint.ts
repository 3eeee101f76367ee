// Which Consul server the stack's Consul provider talks to. A cluster must not fail the stack when
// one server is down: the program asks each server, from where Pulumi runs (the provider's own
// path), whether it answers with a leader. It keeps the server the last `up` went through (the
// cluster's record in Consul names it) while that one answers, so that a server lost and back
// does not move the provider again (a preview after recovery shows no changes); otherwise the
// first that answers, in `kv.servers` order. The first server when none answers (before the
// first `up`, nothing runs yet) or when preflight is off.

/** The record's subkey (under `docker-overlay/<stack>/`) naming the server the last `up` went through; a cluster's only. */
export const REGISTRY_SERVER_KEY = "registryServer";

export interface ConsulServer {
    name: string;
    /** The address the provider uses: the host's `address` from the stack file. */
    address: string;
}

/** Asks Consul at address:port for its leader; true when it names one (within the timeout). */
export async function consulAnswers(address: string, port: number, timeoutMs = 3000): Promise<boolean> {
    const host = address.includes(":") ? `[${address}]` : address;
    try {
        const res = await fetch(`http://${host}:${port}/v1/status/leader`, { signal: AbortSignal.timeout(timeoutMs) });
        return res.status === 200 && /"[^"]+"/.test(await res.text());
    } catch {
        return false;
    }
}

/** Reads one key's raw value from Consul's KV (undefined when absent, refused or unreachable). */
export async function consulKey(address: string, port: number, key: string, token?: string, timeoutMs = 3000): Promise<string | undefined> {
    const host = address.includes(":") ? `[${address}]` : address;
    try {
        const res = await fetch(`http://${host}:${port}/v1/kv/${key}?raw`, {
            signal: AbortSignal.timeout(timeoutMs),
            ...(token ? { headers: { "X-Consul-Token": token } } : {}),
        });
        return res.status === 200 ? (await res.text()).trim() : undefined;
    } catch {
        return undefined;
    }
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
