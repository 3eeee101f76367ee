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
 * covers: the engine's own work between steps (until its summary event), and what comes after
 * the summary until the run returned.
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
    // The engine's summary event ends its own work; what follows (the CLI saving and exiting, and
    // for the Automation API its `pulumi stack output` runs that fill in the result) is not the
    // engine's, and an empty program's preview pays only part of it.
    const summaryAt = Math.min(runEnd, events.find((e) => e.kind === "summary")?.at ?? runEnd);
    const idle = summaryAt - firstOther - covered(stepIntervals.map(([a, b]) => [Math.min(a, summaryAt), Math.min(b, summaryAt)]));
    rows.push({ what: "no step running: the engine between steps", count: 1, wall: Math.max(0, idle) / 1000, summed: Math.max(0, idle) / 1000, floor: "n/a" });
    const tail = runEnd - summaryAt;
    rows.push({ what: "after the engine's summary: CLI exit, Automation API's `stack output` runs", count: 1, wall: tail / 1000, summed: tail / 1000, floor: "n/a" });
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

/** One line of the engine's verbose log (`--logtostderr -v=9`): when, and what it says. */
export interface LogLine {
    /** ms since the epoch */
    at: number;
    msg: string;
}

/**
 * The engine's verbose log as lines, from the JSON lines the CLI writes to stderr with
 * `--logtostderr` (`{"time":"2026-12-03T02:16:49.986697622Z","msg":...}`); other lines are skipped.
 */
export function logLines(text: string): LogLine[] {
    const out: LogLine[] = [];
    for (const line of text.split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
            const o = JSON.parse(line) as { time?: unknown; msg?: unknown };
            if (typeof o.time !== "string" || typeof o.msg !== "string") continue;
            const at = Date.parse(o.time.replace(/(\.\d{3})\d*/, "$1"));
            if (Number.isFinite(at)) out.push({ at, msg: o.msg });
        } catch {
            // a log line that is not JSON (or cut off) says nothing about time
        }
    }
    return out;
}

/** The provider calls whose start and end the engine logs ("executing", then "success", "failed" or "unimplemented"). */
const PROVIDER_CALL = /^Provider\[(\w+)\]\.(\w+)\((.*?)\):? (executing|success|failed|unimplemented)/s;

/**
 * Where the seconds of one run went by the engine's own verbose log: what the events of
 * `breakdown` cannot split (the CLI before the program, plugin start, the providers' Check and
 * Diff calls, the engine and the program between them, the end). Rows in order; the wall figures
 * of the top-level rows (not indented) add up to the run. `runStart`/`runEnd` in ms since the
 * epoch, on the same clock as the log's times.
 */
export function engineLogBreakdown(lines: readonly LogLine[], runStart: number, runEnd: number): BreakdownRow[] {
    if (lines.length === 0) return [];
    const first = lines[0]!.at;
    const last = lines[lines.length - 1]!.at;
    const find = (re: RegExp, from = first) => lines.find((l) => l.at >= from && re.test(l.msg))?.at;
    const runAt = find(/^langhost\[client\]\.Run\(.*\) executing/s) ?? first;
    const firstResource = find(/^ResourceMonitor\.RegisterResource received: t=(?!pulumi:pulumi:Stack,)/, runAt) ?? runAt;
    const programDone = find(/^SignalAndWaitForShutdown waiting/, firstResource) ?? find(/^langhost\[client\]\.Run\(.*\) (success|failed)/s, firstResource) ?? last;
    const phase = (what: string, from: number, to: number, count = 1): BreakdownRow => ({ what, count, wall: Math.max(0, to - from) / 1000, summed: Math.max(0, to - from) / 1000, floor: "n/a" });

    // Plugins: each launch, until the first call of a provider the log had not named before
    // (launches and new providers paired in order: the engine starts them one after the other).
    const launches = lines.filter((l) => l.at >= firstResource && l.at <= programDone && /^newPlugin\(\): Launching plugin /.test(l.msg)).map((l) => l.at);
    const seen = new Set<string>();
    const firstCalls: number[] = [];
    // Provider calls: start to end, per provider, method and resource.
    const open = new Map<string, number>();
    const calls: [number, number][] = [];
    for (const l of lines) {
        const m = PROVIDER_CALL.exec(l.msg);
        if (!m) continue;
        const [, ptr, method, args, state] = m;
        if (!seen.has(ptr!)) {
            seen.add(ptr!);
            firstCalls.push(l.at);
        }
        if (method === "GetPluginInfo" || method === "Configure") continue;
        const key = `${ptr}.${method}(${args})`;
        if (state === "executing") open.set(key, l.at);
        else if (open.has(key)) {
            calls.push([open.get(key)!, l.at]);
            open.delete(key);
        }
    }
    // The i-th launch ends when the i-th provider first named after the first launch makes its first call.
    const after = firstCalls.filter((c) => c >= (launches[0] ?? Infinity));
    const starts: [number, number][] = launches.map((at, i) => [at, Math.max(at, after[i] ?? at)]);
    const inPhase = (iv: [number, number][]) => iv.map(([a, b]) => [Math.max(a, firstResource), Math.min(b, programDone)] as [number, number]);
    const pluginWall = covered(inPhase(starts));
    const callWall = covered(inPhase(calls));
    const busy = covered(inPhase([...starts, ...calls]));
    const registered = lines.filter((l) => /^ResourceMonitor\.RegisterResource received: /.test(l.msg)).length;
    const sum = (iv: [number, number][]) => iv.reduce((a, [x, y]) => a + (y - x), 0) / 1000;
    return [
        phase("before the CLI's first log line (process start; Automation API: its own commands)", runStart, first),
        phase("CLI: stack, config, secrets, language host, until the program runs", first, runAt),
        phase("program until its first resource (preflight's SSH)", runAt, firstResource),
        phase(`resources, until the program finished (${registered} registered)`, firstResource, programDone, registered),
        { what: `  of which: plugin start (${starts.length} launched, until their first call)`, count: starts.length, wall: pluginWall / 1000, summed: sum(starts), floor: "n/a" },
        { what: `  of which: provider calls (Check, Diff, CheckConfig, DiffConfig, ...)`, count: calls.length, wall: callWall / 1000, summed: sum(calls), floor: "n/a" },
        phase("  of which: neither (the program and the engine between calls)", busy, programDone - firstResource),
        phase("end: plugins stopped, checkpoint saved, until the CLI's last log line", programDone, last),
        phase("after the CLI's last log line, until the run returned (Automation API: `stack output`)", last, runEnd),
    ];
}

/** engineLogBreakdown's rows as plain text. */
export function renderEngineLog(title: string, rows: readonly BreakdownRow[], total: number): string {
    const w = Math.max(...rows.map((r) => r.what.length), 20);
    return [
        `${title}: ${total.toFixed(1)} s in all`,
        `  ${"where (the engine's verbose log)".padEnd(w)}  count   wall s  summed s`,
        ...rows.map((r) => `  ${r.what.padEnd(w)}  ${String(r.count).padStart(5)}  ${r.wall.toFixed(2).padStart(7)}  ${r.summed.toFixed(2).padStart(8)}`),
    ].join("\n");
}
