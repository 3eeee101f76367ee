// Which Consul server the stack's Consul provider talks to. A cluster must not fail the stack when
// one server is down: the program asks each server, in `kv.servers` order, from where Pulumi runs
// (the provider's own path), and takes the first that answers with a leader. The first server
// when none answers (before the first `up`, nothing runs yet) or when preflight is off.

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

/** The first server ASK says yes to, else the first server; and which ones were skipped. */
export async function pickConsulServer(servers: readonly ConsulServer[], ask: (s: ConsulServer) => Promise<boolean>): Promise<{ server: ConsulServer; skipped: ConsulServer[] }> {
    if (servers.length === 0) throw new Error("docker-overlay: pickConsulServer needs at least one server");
    const answers = await Promise.all(servers.map((s) => ask(s)));
    const i = answers.indexOf(true);
    if (i < 0) return { server: servers[0]!, skipped: [] };
    return { server: servers[i]!, skipped: servers.slice(0, i) };
}
