// Where the seconds of one `pulumi up` go (issue 14): from the engine's own events (the start
// and end of every step), timed as they arrive, and the SSH connections each lab host's sshd
// accepted during the run. Pure: bench/bench.ts records, this decides; test/unit/bench.test.ts
// checks it. Only erasable TypeScript: Node runs this file directly.

/** One engine event as bench.ts records it: when it arrived (ms after the run started) and its kind. */
export interface TimedEvent {
    at: number;
    kind: "prelude" | "pre" | "outputs" | "failed" | "summary" | "other";
    /** pre/outputs/failed: the resource's URN. */
    urn?: string;
    /** pre: the step's operation (create, same, update, replace, ...). */
    op?: string;
}

/** The kind of an engine event object (@pulumi/pulumi's EngineEvent), with the fields used here. */
export function classify(event: Record<string, unknown>, at: number): TimedEvent {
    const meta = (e: unknown) => (e as { metadata?: { urn?: string; op?: string } } | undefined)?.metadata;
    if (event.preludeEvent) return { at, kind: "prelude" };
    if (event.resourcePreEvent) return { at, kind: "pre", urn: meta(event.resourcePreEvent)?.urn, op: meta(event.resourcePreEvent)?.op };
    if (event.resOutputsEvent) return { at, kind: "outputs", urn: meta(event.resOutputsEvent)?.urn, op: meta(event.resOutputsEvent)?.op };
    if (event.resOpFailedEvent) return { at, kind: "failed", urn: meta(event.resOpFailedEvent)?.urn };
    if (event.summaryEvent) return { at, kind: "summary" };
    return { at, kind: "other" };
}

/** The type and name of a URN: urn:pulumi:STACK::PROJECT::PARENT$TYPE::NAME. */
export function urnParts(urn: string): { type: string; name: string } {
    const parts = urn.split("::");
    const name = parts.slice(3).join("::");
    const types = (parts[2] ?? "").split("$");
    return { type: types[types.length - 1] ?? "", name };
}

/**
 * The category a step is counted under, or undefined for what is only a container of others
 * (the stack, our components). `floor`: whether the docker-CLI floor (bench/floor-*.sh) does
 * this work too.
 */
export function categoryOf(type: string, name: string): { category: string; floor: boolean } | undefined {
    if (type === "pulumi:pulumi:Stack" || type.startsWith("docker-overlay:")) return undefined;
    if (type.startsWith("pulumi:providers:")) return { category: `provider ${type.slice("pulumi:providers:".length)} (plugin start, configure)`, floor: false };
    if (type === "command:remote:Command") {
        const rules: [RegExp, string, boolean][] = [
            [/-reachable$/, "ssh: reachable", false],
            [/-facts$/, "ssh: host facts", false],
            [/-daemon-config-backup$/, "ssh: daemon.json backup", false],
            [/-daemon-config-apply$/, "ssh: daemon.json + restart + wait", true],
            [/-daemon-env$/, "ssh: daemon env", false],
            [/-firewall$/, "ssh: firewall", false],
            [/-(ready|settled)$/, "ssh: store waits", false],
            [/-swarm-(init|join)/, "ssh: swarm init/join", true],
            [/-tokens$/, "ssh: swarm tokens", false],
            [/-rejoin/, "ssh: rejoin", false],
            [/-from-/, "ssh: connectivity check", false],
        ];
        for (const [re, category, floor] of rules) if (re.test(name)) return { category, floor };
        return { category: "ssh: other commands", floor: false };
    }
    if (type === "docker:index/remoteImage:RemoteImage") return { category: "docker: images", floor: false };
    if (type === "docker:index/network:Network") return { category: "docker: network", floor: true };
    if (type === "docker:index/container:Container") return { category: name.includes("probe") ? "docker: probe containers" : "docker: containers", floor: !name.includes("probe") };
    if (type.startsWith("docker:")) return { category: "docker: volumes, other", floor: false };
    if (type.startsWith("consul:")) return { category: "consul: registry", floor: false };
    return { category: `other (${type})`, floor: false };
}

/** One step: its resource, when it started and ended (ms after the run started). */
export interface Step {
    urn: string;
    type: string;
    name: string;
    op: string;
    start: number;
    end: number;
}

/** Pairs each step's start with its end (outputs or failure); a step without an end ends with the run. */
export function steps(events: readonly TimedEvent[], runEnd: number): Step[] {
    const open = new Map<string, { op: string; start: number }>();
    const out: Step[] = [];
    for (const e of events) {
        if (!e.urn) continue;
        if (e.kind === "pre") open.set(e.urn, { op: e.op ?? "", start: e.at });
        else if (e.kind === "outputs" || e.kind === "failed") {
            const s = open.get(e.urn);
            if (!s) continue;
            open.delete(e.urn);
            out.push({ urn: e.urn, ...urnParts(e.urn), op: s.op, start: s.start, end: e.at });
        }
    }
    for (const [urn, s] of open) out.push({ urn, ...urnParts(urn), op: s.op, start: s.start, end: runEnd });
    return out.sort((a, b) => a.start - b.start);
}

/** The length of the union of intervals: the wall time during which at least one ran. */
export function covered(intervals: readonly [number, number][]): number {
    const sorted = [...intervals].filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
    let total = 0;
    let curStart = -Infinity;
    let curEnd = -Infinity;
    for (const [a, b] of sorted) {
        if (a > curEnd) {
            if (curEnd > curStart) total += curEnd - curStart;
            curStart = a;
            curEnd = b;
        } else curEnd = Math.max(curEnd, b);
    }
    if (curEnd > curStart) total += curEnd - curStart;
    return total;
}

export interface BreakdownRow {
    what: string;
    /** Steps counted (a phase: 1). */
    count: number;
    /** Wall seconds during which at least one of them ran. */
    wall: number;
    /** Seconds summed over them (more than wall when they ran side by side). */
    summed: number;
    /** The docker-CLI floor does this work too. */
    floor: boolean | "n/a";
}

export interface Breakdown {
    total: number;
    rows: BreakdownRow[];
    /** SSH connections each host's sshd accepted during the run. */
    ssh: Record<string, number>;
}

/**
 * The breakdown of one run: the phases before the first step (engine start to its prelude; the
 * language host starting the program up to the stack's registration; the program itself, which
 * runs preflight's SSH, up to its first resource), then every step by category, then what no step
 * covers (the engine's own work between steps and at the end).
 * @param runEnd ms after the start when the run returned
 * @param sshAccepted per host, the connections its sshd accepted during the run
 */
export function breakdown(events: readonly TimedEvent[], runEnd: number, sshAccepted: Record<string, number>): Breakdown {
    const all = steps(events, runEnd);
    const prelude = events.find((e) => e.kind === "prelude")?.at ?? 0;
    const stackStep = all.find((s) => s.type === "pulumi:pulumi:Stack");
    const stackAt = stackStep?.start ?? prelude;
    const firstOther = all.find((s) => s.type !== "pulumi:pulumi:Stack")?.start ?? stackAt;
    const rows: BreakdownRow[] = [
        { what: "engine start (until its prelude event)", count: 1, wall: prelude / 1000, summed: prelude / 1000, floor: false },
        { what: "program start (language host, Node, TypeScript) until the stack registers", count: 1, wall: (stackAt - prelude) / 1000, summed: (stackAt - prelude) / 1000, floor: false },
        { what: "program: preflight over SSH, until the first resource", count: 1, wall: (firstOther - stackAt) / 1000, summed: (firstOther - stackAt) / 1000, floor: false },
    ];
    const byCategory = new Map<string, { floor: boolean; steps: Step[] }>();
    for (const s of all) {
        const c = categoryOf(s.type, s.name);
        if (!c) continue;
        const entry = byCategory.get(c.category) ?? { floor: c.floor, steps: [] };
        entry.steps.push(s);
        byCategory.set(c.category, entry);
    }
    const stepIntervals: [number, number][] = [];
    for (const [category, { floor, steps: ss }] of [...byCategory].sort((a, b) => a[1].steps[0]!.start - b[1].steps[0]!.start)) {
        const intervals = ss.map((s) => [s.start, s.end] as [number, number]);
        stepIntervals.push(...intervals);
        const changed = ss.filter((s) => s.op !== "same").length;
        rows.push({
            what: `${category}${changed < ss.length ? ` (${changed} of ${ss.length} changed)` : ""}`,
            count: ss.length,
            wall: covered(intervals) / 1000,
            summed: ss.reduce((a, s) => a + (s.end - s.start), 0) / 1000,
            floor,
        });
    }
    const idle = runEnd - firstOther - covered(stepIntervals);
    rows.push({ what: "no step running: the engine between steps and at the end", count: 1, wall: Math.max(0, idle) / 1000, summed: Math.max(0, idle) / 1000, floor: "n/a" });
    return { total: runEnd / 1000, rows, ssh: sshAccepted };
}

/** The breakdown as a plain-text table a person reads in the bench's output. */
export function renderBreakdown(title: string, b: Breakdown): string {
    const sshTotal = Object.values(b.ssh).reduce((a, n) => a + n, 0);
    const w = Math.max(...b.rows.map((r) => r.what.length), 20);
    const lines = [
        `${title}: ${b.total.toFixed(1)} s in all`,
        `  ${"where".padEnd(w)}  steps   wall s  summed s  floor pays it too`,
        ...b.rows.map((r) => `  ${r.what.padEnd(w)}  ${String(r.count).padStart(5)}  ${r.wall.toFixed(2).padStart(7)}  ${r.summed.toFixed(2).padStart(8)}  ${r.floor === "n/a" ? "" : r.floor ? "yes" : "no"}`),
        `  SSH connections accepted: ${sshTotal} (${Object.entries(b.ssh).map(([h, n]) => `${h} ${n}`).join(", ")})`,
    ];
    return lines.join("\n");
}

/** How many "Accepted publickey" lines an sshd log (`sshd -E`) holds. */
export function acceptedCount(log: string): number {
    return (log.match(/Accepted publickey for /g) ?? []).length;
}
