// Pure helpers of the benchmark (bench/bench.ts): statistics, ratios, parsers of tool output
// and the table renderers. No I/O here, so test/unit/bench.test.ts checks them. Only erasable
// TypeScript: Node runs this file directly.

/** The median of a non-empty list (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
    if (xs.length === 0) throw new Error("median of an empty list");
    const s = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function mean(xs: readonly number[]): number {
    if (xs.length === 0) throw new Error("mean of an empty list");
    return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/**
 * `value / floor`, or null when either is missing or the floor is not a positive number (a ratio
 * to nothing would be a made-up figure).
 */
export function ratio(value: number | null | undefined, floor: number | null | undefined): number | null {
    if (value == null || floor == null || !Number.isFinite(value) || !Number.isFinite(floor) || floor <= 0) return null;
    return value / floor;
}

/** Round-trip times in ms of each reply in iputils or busybox `ping` output ("time=0.123 ms"). */
export function parsePingTimes(output: string): number[] {
    return [...output.matchAll(/time[=<]([0-9]+(?:\.[0-9]+)?) ?ms/g)].map((m) => Number(m[1]));
}

/** Received bytes and seconds from `iperf3 -J` (the client's report of the receiving side). */
export function parseIperfReceived(json: string): { bytes: number; seconds: number } {
    const doc = JSON.parse(json) as { error?: string; end?: { sum_received?: { bytes?: number; seconds?: number } } };
    if (doc.error) throw new Error(`iperf3: ${doc.error}`);
    const r = doc.end?.sum_received;
    if (!r || typeof r.bytes !== "number" || typeof r.seconds !== "number" || r.seconds <= 0) throw new Error("iperf3 output has no end.sum_received with bytes and seconds");
    return { bytes: r.bytes, seconds: r.seconds };
}

/** Peak resident set (VmHWM) in KiB from the text of /proc/PID/status, or null if absent. */
export function parseVmHWM(status: string): number | null {
    const m = /^VmHWM:\s+([0-9]+) kB$/m.exec(status);
    return m ? Number(m[1]) : null;
}

/** The machine's CPU time from the text of /proc/stat's first line (USER_HZ ticks): all of it, and the idle part (idle + iowait). */
export function parseProcStat(text: string): { total: number; idle: number } {
    const m = /^cpu\s+([0-9 ]+)$/m.exec(text);
    const t = m ? m[1]!.trim().split(/\s+/).map(Number) : [];
    if (t.length < 5) throw new Error("/proc/stat has no aggregate cpu line");
    // user nice system idle iowait irq softirq steal [guest guest_nice: already counted in user and nice]
    const counted = t.slice(0, 8);
    return { total: counted.reduce((a, b) => a + b, 0), idle: t[3]! + t[4]! };
}

/** How many of the machine's CPUs were busy, on average, between two /proc/stat readings (0..cpus). */
export function busyCpus(before: { total: number; idle: number }, after: { total: number; idle: number }, cpus: number): number {
    const total = after.total - before.total;
    if (total <= 0) return 0;
    return (cpus * (total - (after.idle - before.idle))) / total;
}

/**
 * A process's own CPU time and its waited-for children's (USER_HZ ticks), from the text of
 * /proc/PID/stat: utime + stime, cutime + cstime (fields 14-17; the name in brackets may hold spaces).
 */
export function parseProcessCpu(stat: string): { self: number; children: number } {
    const rest = stat.slice(stat.lastIndexOf(")") + 2).trim().split(/\s+/).map(Number);
    // rest[0] is field 3 (state), so field N is rest[N - 3].
    if (rest.length < 15 || rest.slice(11, 15).some((x) => !Number.isFinite(x))) throw new Error("not the text of /proc/PID/stat");
    return { self: rest[11]! + rest[12]!, children: rest[13]! + rest[14]! };
}

/** One line of the results table. */
export interface Row {
    /** Section number and name, e.g. "1 cold up". */
    section: string;
    /** What was measured, e.g. "cold `pulumi up`, 3 hosts, swarm". */
    measure: string;
    /** The figure for docker-overlay (or the measured path); null: not measured. */
    value: number | null;
    /** The floor's figure, measured in the same run. */
    floor: number | null;
    /** What the floor is. */
    floorIs: string;
    unit: string;
    /** value / floor (null when either is missing). */
    ratio: number | null;
    note?: string;
}

export function row(r: Omit<Row, "ratio">): Row {
    return { ...r, ratio: ratio(r.value, r.floor) };
}

/** A number with a sensible number of digits for the table. */
export function fmt(x: number | null, unit = ""): string {
    if (x == null || !Number.isFinite(x)) return "not measured";
    const a = Math.abs(x);
    const s = a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : x.toFixed(3);
    return unit ? `${s} ${unit}` : s;
}

export function fmtRatio(r: number | null): string {
    return r == null ? "n/a" : `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`;
}

const HEADER = ["#", "measure", "value", "floor", "floor is", "ratio"];

function cells(r: Row): string[] {
    const measure = r.note ? `${r.measure} (${r.note})` : r.measure;
    return [r.section, measure, fmt(r.value, r.unit), fmt(r.floor, r.unit), r.floorIs, fmtRatio(r.ratio)];
}

/** A Markdown table; `|` inside a cell is escaped so it cannot split the row. */
export function renderMarkdown(rows: readonly Row[]): string {
    const esc = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
    const line = (cs: string[]) => `| ${cs.map(esc).join(" | ")} |`;
    return [line(HEADER), line(HEADER.map(() => "---")), ...rows.map((r) => line(cells(r)))].join("\n") + "\n";
}

/** The same table as aligned plain text, for the terminal. */
export function renderText(rows: readonly Row[]): string {
    const all = [HEADER, ...rows.map(cells)];
    const widths = HEADER.map((_, i) => Math.max(...all.map((cs) => cs[i]!.length)));
    return all.map((cs) => cs.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n") + "\n";
}

/** One of issue 14's targets: the ratio of the table's row `measure` is to stay at or under `max`. */
export interface Target {
    /** What the target says, e.g. "cold up <= 1.8x the docker-CLI floor, swarm". */
    what: string;
    /** The `measure` of the row whose ratio it reads. */
    measure: string;
    max: number;
}

export interface TargetResult {
    what: string;
    ratio: number | null;
    max: number;
    /** null: the row is missing or has no ratio (not measured, or its step failed). */
    met: boolean | null;
}

/** Each target against the rows' ratios. The bench prints these; it does not fail on them. */
export function checkTargets(rows: readonly Row[], targets: readonly Target[]): TargetResult[] {
    return targets.map((t) => {
        const r = rows.find((x) => x.measure === t.measure)?.ratio ?? null;
        return { what: t.what, ratio: r, max: t.max, met: r == null ? null : r <= t.max };
    });
}

/** The targets as lines, "met"/"NOT met"/"not measured", for the terminal and Markdown alike. */
export function renderTargets(results: readonly TargetResult[]): string[] {
    return results.map((t) => `${t.what}: ${fmtRatio(t.ratio)} (target <= ${t.max}×): ${t.met == null ? "not measured" : t.met ? "met" : "NOT met"}`);
}
