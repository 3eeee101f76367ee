// The topology picture: what `up` built, as Mermaid text (a stack output, and the README's lab
// picture). Pure: tests check the text directly.
import type { StackConfig } from "./config";
import type { ProbeReport } from "./connectivityCheck";
import type { HostFacts } from "./dockerHost";

export interface TopologyInput {
    /** The stack's config with its mode decided (`auto` resolved). */
    config: Pick<StackConfig, "hosts" | "kv" | "network" | "services"> & { mode: "kv" | "swarm" };
    /** Per host, what it reported (after this up). */
    hosts: Readonly<Record<string, Partial<HostFacts>>>;
    /** Per service, its overlay address. */
    serviceAddresses: Readonly<Record<string, string>>;
    /** The connectivity check's report, when it ran. */
    connectivity?: readonly ProbeReport[];
}

/** A Mermaid node ID: letters, digits and underscores only. */
const id = (kind: string, name: string) => `${kind}_${name.replace(/[^A-Za-z0-9]/g, "_")}`;
/** Text inside a Mermaid label: no quotes, brackets or pipes that would end it. */
const text = (s: string) => s.replace(/["[\]{}|<>]/g, "'");

/**
 * A Mermaid flowchart: one box per host (name, address, advertised interface, engine), the store
 * (kv: its servers) or the swarm's managers, the overlay (name, subnet, MTU), each service on its
 * host with its overlay address and aliases, and one edge per pair of hosts with the connectivity
 * result ("ok" when both directions passed by address and by name).
 */
export function topologyMermaid(t: TopologyInput): string {
    const { config } = t;
    const net = config.network;
    const lines = ["flowchart LR"];
    lines.push(`    ${id("net", net.name)}{{"overlay ${text(net.name)}<br/>${text(net.subnet ?? "subnet by Docker")}${net.mtu ? `<br/>MTU ${net.mtu}` : ""}"}}`);
    if (config.mode === "kv" && config.kv) {
        lines.push(`    ${id("store", config.kv.backend)}[("${text(config.kv.backend)} on ${text(config.kv.servers.join(", "))}")]`);
    } else {
        const managers = config.hosts.filter((h) => h.swarmRole === "manager").map((h) => h.name);
        lines.push(`    ${id("store", "swarm")}[("swarm managers: ${text(managers.join(", "))}")]`);
    }
    const store = config.mode === "kv" && config.kv ? id("store", config.kv.backend) : id("store", "swarm");
    for (const h of config.hosts) {
        const f = t.hosts[h.name] ?? {};
        const detail = [h.address, f.interface ? `advertises ${f.interface}` : "", f.engineVersion ? `Docker ${f.engineVersion}` : ""].filter((x) => x !== "");
        lines.push(`    subgraph ${id("host", h.name)}["${text(h.name)}: ${text(detail.join(", "))}"]`);
        for (const s of config.services.filter((x) => x.host === h.name)) {
            const names = [s.name, ...(s.aliases ?? [])].join(", ");
            lines.push(`        ${id("svc", s.name)}["${text(names)}<br/>${text(t.serviceAddresses[s.name] ?? "address after up")}"]`);
        }
        lines.push("    end");
        lines.push(`    ${id("host", h.name)} --- ${store}`);
        for (const s of config.services.filter((x) => x.host === h.name)) lines.push(`    ${id("svc", s.name)} --- ${id("net", net.name)}`);
    }
    for (const [a, b] of pairs(config.hosts.map((h) => h.name))) {
        const result = pairResult(t.connectivity, a, b);
        if (result !== undefined) lines.push(`    ${id("host", a)} <-.->|${result}| ${id("host", b)}`);
    }
    return lines.join("\n") + "\n";
}

function pairs(names: readonly string[]): [string, string][] {
    return names.flatMap((a, i) => names.slice(i + 1).map((b): [string, string] => [a, b]));
}

/** "ok", or what failed between two hosts in either direction; undefined without a report. */
export function pairResult(report: readonly ProbeReport[] | undefined, a: string, b: string): string | undefined {
    if (!report) return undefined;
    const failed: string[] = [];
    for (const [from, to] of [
        [a, b],
        [b, a],
    ] as const) {
        const r = report.find((x) => x.from === from)?.results.find((x) => x.to === to);
        if (!r) failed.push(`${from} to ${to} not checked`);
        else if (!r.byAddress || !r.byName) failed.push(`${from} to ${to} fails by ${[!r.byAddress ? "address" : "", !r.byName ? "name" : ""].filter((x) => x).join(" and ")}`);
    }
    return failed.length === 0 ? "ok" : failed.join("; ");
}
