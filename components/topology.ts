// The topology picture: what `up` built, as one model drawn two ways: Mermaid text (a stack
// output, and the README's lab picture) and Graphviz DOT (`npm run lab` renders it to SVG).
// Pure: tests check the model and the text directly.
import type { StackConfig } from "./config";
import type { ProbeReport } from "./connectivityCheck";
import type { HostSummary } from "./hostFacts";

export interface TopologyInput {
    /** The stack's config with its mode decided (`auto` resolved). */
    config: Pick<StackConfig, "hosts" | "kv" | "network" | "services"> & { mode: "kv" | "swarm" };
    /** Per host, what it reported (after this up). */
    hosts: Readonly<Record<string, Partial<HostSummary>>>;
    /** Per service, its overlay address. */
    serviceAddresses: Readonly<Record<string, string>>;
    /** The connectivity check's report, when it ran. */
    connectivity?: readonly ProbeReport[];
}

/** One box of the picture; `lines` are its label's lines. Services sit inside their host. */
export interface TopologyNode {
    id: string;
    kind: "host" | "store" | "network" | "service";
    lines: string[];
    /** For a service: the id of its host. */
    host?: string;
}

/** A line between two boxes; `label` only on the pairs of hosts (the connectivity result). */
export interface TopologyEdge {
    from: string;
    to: string;
    label?: string;
}

/** A node ID both Mermaid and DOT take: letters, digits and underscores only. */
const id = (kind: string, name: string) => `${kind}_${name.replace(/[^A-Za-z0-9]/g, "_")}`;

/**
 * The picture's content: one box per host (name, address, advertised interface, engine), the
 * store (kv: its backend and servers) or the swarm's managers, the overlay (name, subnet, MTU),
 * each service on its host with its overlay address and aliases, and one line per pair of hosts
 * with the connectivity result ("ok" when both directions passed by address and by name).
 */
export function topologyModel(t: TopologyInput): { nodes: TopologyNode[]; edges: TopologyEdge[] } {
    const { config } = t;
    const net = config.network;
    const netId = id("net", net.name);
    const kv = config.mode === "kv" ? config.kv : undefined;
    const storeId = kv ? id("store", kv.backend) : id("store", "swarm");
    const nodes: TopologyNode[] = [
        { id: netId, kind: "network", lines: [`overlay ${net.name}`, net.subnet ?? "subnet by Docker", ...(net.mtu ? [`MTU ${net.mtu}`] : [])] },
        kv
            ? { id: storeId, kind: "store", lines: [`${kv.backend} on ${kv.servers.join(", ")}`] }
            : { id: storeId, kind: "store", lines: [`swarm managers: ${config.hosts.filter((h) => h.swarmRole === "manager").map((h) => h.name).join(", ")}`] },
    ];
    const edges: TopologyEdge[] = [];
    for (const h of config.hosts) {
        const f = t.hosts[h.name] ?? {};
        const detail = [h.address, f.interface ? `advertises ${f.interface}` : "", f.engineVersion ? `Docker ${f.engineVersion}` : ""].filter((x) => x !== "");
        nodes.push({ id: id("host", h.name), kind: "host", lines: [`${h.name}: ${detail.join(", ")}`] });
        edges.push({ from: id("host", h.name), to: storeId });
        for (const s of config.services.filter((x) => x.host === h.name)) {
            nodes.push({ id: id("svc", s.name), kind: "service", host: id("host", h.name), lines: [[s.name, ...(s.aliases ?? [])].join(", "), t.serviceAddresses[s.name] ?? "address after up"] });
            edges.push({ from: id("svc", s.name), to: netId });
        }
    }
    const names = config.hosts.map((h) => h.name);
    for (const [i, a] of names.entries()) {
        for (const b of names.slice(i + 1)) {
            const label = pairResult(t.connectivity, a, b);
            if (label !== undefined) edges.push({ from: id("host", a), to: id("host", b), label });
        }
    }
    return { nodes, edges };
}

/** "ok", or what failed between two hosts in either direction; undefined without a report. */
export function pairResult(report: readonly ProbeReport[] | undefined, a: string, b: string): string | undefined {
    if (!report) return undefined;
    const failed: string[] = [];
    for (const [from, to] of [
        [a, b],
        [b, a],
    ] as const) {
        const r = report.find((x) => x.from === from)?.results.find((x) => x.host === to);
        if (!r) failed.push(`${from} to ${to} not checked`);
        else if (!r.byAddress || !r.byName) failed.push(`${from} to ${to} fails by ${[!r.byAddress ? "address" : "", !r.byName ? "name" : ""].filter((x) => x).join(" and ")}`);
    }
    return failed.length === 0 ? "ok" : failed.join("; ");
}

/** Label text for Mermaid: no quotes, brackets, braces, pipes or angle brackets that would end it. */
const mermaidText = (s: string) => s.replace(/["[\]{}|<>]/g, "'");

/** The picture as a Mermaid flowchart: hosts are boxes holding their services. */
export function topologyMermaid(t: TopologyInput): string {
    const { nodes, edges } = topologyModel(t);
    const label = (n: TopologyNode) => n.lines.map(mermaidText).join("<br/>");
    const shape = (n: TopologyNode) => (n.kind === "network" ? `{{"${label(n)}"}}` : n.kind === "store" ? `[("${label(n)}")]` : `["${label(n)}"]`);
    const lines = ["flowchart LR"];
    for (const n of nodes.filter((x) => x.kind === "network" || x.kind === "store")) lines.push(`    ${n.id}${shape(n)}`);
    for (const h of nodes.filter((x) => x.kind === "host")) {
        lines.push(`    subgraph ${h.id}${shape(h)}`);
        for (const s of nodes.filter((x) => x.host === h.id)) lines.push(`        ${s.id}${shape(s)}`);
        lines.push("    end");
    }
    for (const e of edges) lines.push(e.label === undefined ? `    ${e.from} --- ${e.to}` : `    ${e.from} <-.->|${mermaidText(e.label)}| ${e.to}`);
    return lines.join("\n") + "\n";
}

/** A DOT string literal. */
const dotText = (s: string) => JSON.stringify(s);

/**
 * The picture as Graphviz DOT: hosts are clusters holding their services; a line to or from a
 * host is drawn to its cluster's edge (an invisible point inside it, `compound=true`).
 */
export function topologyDot(t: TopologyInput): string {
    const { nodes, edges } = topologyModel(t);
    const label = (n: TopologyNode) => dotText(n.lines.join("\n"));
    const anchor = (hostId: string) => `${hostId}_at`;
    const isHost = new Set(nodes.filter((n) => n.kind === "host").map((n) => n.id));
    const lines = ["digraph topology {", "    compound=true;", "    rankdir=LR;", '    graph [fontname="Helvetica", fontsize=11];', '    node [fontname="Helvetica", fontsize=10];', '    edge [dir=none, fontname="Helvetica", fontsize=9];'];
    for (const n of nodes.filter((x) => x.kind === "network" || x.kind === "store")) lines.push(`    ${n.id} [label=${label(n)}, shape=${n.kind === "network" ? "hexagon" : "cylinder"}];`);
    for (const h of nodes.filter((x) => x.kind === "host")) {
        lines.push(`    subgraph cluster_${h.id} {`, `        label=${label(h)};`, `        ${anchor(h.id)} [shape=point, style=invis];`);
        for (const s of nodes.filter((x) => x.host === h.id)) lines.push(`        ${s.id} [label=${label(s)}, shape=box];`);
        lines.push("    }");
    }
    for (const e of edges) {
        const end = (x: string) => (isHost.has(x) ? anchor(x) : x);
        const attrs = [
            ...(isHost.has(e.from) ? [`ltail=cluster_${e.from}`] : []),
            ...(isHost.has(e.to) ? [`lhead=cluster_${e.to}`] : []),
            ...(e.label !== undefined ? [`label=${dotText(e.label)}`, "style=dashed"] : []),
        ];
        lines.push(`    ${end(e.from)} -> ${end(e.to)}${attrs.length ? ` [${attrs.join(", ")}]` : ""};`);
    }
    lines.push("}");
    return lines.join("\n") + "\n";
}
