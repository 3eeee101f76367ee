// The benchmark's pure helpers (bench/stats.ts, bench/breakdown.ts): the figures it prints are only as good as these.
import { describe, expect, it } from "vitest";
import { busyCpus, checkTargets, fmt, fmtRatio, mean, median, parseIperfReceived, parsePingTimes, parseProcessCpu, parseProcStat, parseVmHWM, ratio, renderMarkdown, renderTargets, renderText, row } from "../../bench/stats";
import { acceptedCount, breakdown, classify, covered, engineLogBreakdown, logLines, renderBreakdown, renderEngineLog, steps, type TimedEvent, urnParts } from "../../bench/breakdown";

describe("statistics", () => {
    it("median of odd and even counts, unsorted input left as it was", () => {
        const xs = [5, 1, 3];
        expect(median(xs)).toBe(3);
        expect(xs).toEqual([5, 1, 3]);
        expect(median([4, 1, 3, 2])).toBe(2.5);
        expect(median([7])).toBe(7);
        expect(() => median([])).toThrow(/empty/);
    });

    it("mean", () => {
        expect(mean([1, 2, 3, 6])).toBe(3);
        expect(() => mean([])).toThrow(/empty/);
    });

    it("ratio is null without a usable floor, never a made-up number", () => {
        expect(ratio(30, 10)).toBe(3);
        expect(ratio(5, 10)).toBe(0.5);
        expect(ratio(null, 10)).toBeNull();
        expect(ratio(10, null)).toBeNull();
        expect(ratio(10, 0)).toBeNull();
        expect(ratio(10, -1)).toBeNull();
        expect(ratio(Number.NaN, 1)).toBeNull();
    });
});

describe("parsers of tool output", () => {
    it("ping times from iputils and busybox output; summary lines are not replies", () => {
        const iputils = [
            "PING 10.220.0.3 (10.220.0.3) 56(84) bytes of data.",
            "64 bytes from 10.220.0.3: icmp_seq=1 ttl=64 time=0.211 ms",
            "64 bytes from 10.220.0.3: icmp_seq=2 ttl=64 time=1.05 ms",
            "",
            "--- 10.220.0.3 ping statistics ---",
            "2 packets transmitted, 2 received, 0% packet loss, time 1001ms",
            "rtt min/avg/max/mdev = 0.211/0.630/1.050/0.419 ms",
        ].join("\n");
        expect(parsePingTimes(iputils)).toEqual([0.211, 1.05]);
        expect(parsePingTimes("64 bytes from 10.210.0.12: seq=0 ttl=64 time=0.093 ms\n")).toEqual([0.093]);
        expect(parsePingTimes("64 bytes from ::1: icmp_seq=1 ttl=64 time<1ms\n")).toEqual([1]);
        expect(parsePingTimes("ping: local error: message too long, mtu=1450\n")).toEqual([]);
    });

    it("iperf3's received bytes and seconds, and its error", () => {
        const ok = JSON.stringify({ end: { sum_sent: { bytes: 1, seconds: 1 }, sum_received: { bytes: 209715200, seconds: 1.25 } } });
        expect(parseIperfReceived(ok)).toEqual({ bytes: 209715200, seconds: 1.25 });
        expect(() => parseIperfReceived(JSON.stringify({ error: "unable to connect to server" }))).toThrow(/unable to connect/);
        expect(() => parseIperfReceived(JSON.stringify({ end: {} }))).toThrow(/sum_received/);
        expect(() => parseIperfReceived(JSON.stringify({ end: { sum_received: { bytes: 5, seconds: 0 } } }))).toThrow(/sum_received/);
    });

    it("VmHWM from /proc/PID/status", () => {
        expect(parseVmHWM("Name:\tnode\nVmPeak:\t 1200 kB\nVmHWM:\t  123456 kB\nVmRSS:\t 1000 kB\n")).toBe(123456);
        expect(parseVmHWM("Name:\tkthreadd\nState:\tS\n")).toBeNull();
    });

    it("the machine's busy CPUs from two /proc/stat readings (idle and iowait are not busy; guest time is not counted twice)", () => {
        //                 user nice system idle iowait irq softirq steal guest guest_nice
        const before = parseProcStat("cpu  100 0 50 800 50 0 0 0 30 0\ncpu0 50 0 25 400 25 0 0 0 15 0\nintr 1\n");
        expect(before).toEqual({ total: 1000, idle: 850 });
        const after = parseProcStat("cpu  400 0 150 1150 100 0 0 0 90 0\ncpu0 1 1 1 1 1 1 1 1 1 1\n");
        // 800 ticks passed, of which 400 idle or waiting: half of 2 CPUs busy.
        expect(busyCpus(before, after, 2)).toBe(1);
        expect(busyCpus(before, before, 2)).toBe(0);
        expect(() => parseProcStat("cpu0 1 2 3 4 5\n")).toThrow(/aggregate cpu line/);
    });

    it("a process's own CPU ticks and its waited-for children's from /proc/PID/stat, whatever its name holds", () => {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
        const stat = "4242 (node (bench) x) S 1 4242 4242 0 -1 4194304 100 200 0 0 150 50 700 300 20 0 11 0 99 1000 50";
        expect(parseProcessCpu(stat)).toEqual({ self: 200, children: 1000 });
        expect(() => parseProcessCpu("4242 (node) S 1 2")).toThrow(/proc\/PID\/stat/);
    });
});

describe("tables", () => {
    const rows = [
        row({ section: "1", measure: "cold up, 3 hosts, swarm", value: 20, floor: 4, floorIs: "floor-swarm.sh", unit: "s" }),
        row({ section: "4", measure: "overlay | throughput", value: null, floor: 900, floorIs: "hosts", unit: "Mbit/s", note: "iperf3 failed" }),
    ];

    it("each row carries its ratio, n/a where a figure is missing", () => {
        expect(rows[0]!.ratio).toBe(5);
        expect(rows[1]!.ratio).toBeNull();
    });

    it("Markdown: header, separator, one line per row, pipes escaped", () => {
        const md = renderMarkdown(rows).trimEnd().split("\n");
        expect(md).toHaveLength(4);
        expect(md[0]).toBe("| # | measure | value | floor | floor is | ratio |");
        expect(md[1]).toBe("| --- | --- | --- | --- | --- | --- |");
        expect(md[2]).toBe("| 1 | cold up, 3 hosts, swarm | 20.0 s | 4.00 s | floor-swarm.sh | 5.00× |");
        expect(md[3]).toBe("| 4 | overlay \\| throughput (iperf3 failed) | not measured | 900 Mbit/s | hosts | n/a |");
        // Every line splits into the same number of cells.
        for (const l of md) expect(l.split(/(?<!\\)\|/).length).toBe(8);
    });

    it("text: aligned columns", () => {
        const lines = renderText(rows).trimEnd().split("\n");
        expect(lines).toHaveLength(3);
        const col = lines[0]!.indexOf("value");
        expect(lines[1]!.slice(col).startsWith("20.0 s")).toBe(true);
        expect(lines[2]!.slice(col).startsWith("not measured")).toBe(true);
    });

    it("number formats", () => {
        expect(fmt(1234.5, "MiB")).toBe("1235 MiB");
        expect(fmt(0.0912, "ms")).toBe("0.091 ms");
        expect(fmt(null)).toBe("not measured");
        expect(fmtRatio(12.34)).toBe("12.3×");
        expect(fmtRatio(null)).toBe("n/a");
    });
});

describe("targets (issue 14): ratios of the table, met or not", () => {
    const rows = [
        row({ section: "1 cold up", measure: "cold up, swarm", value: 5.1, floor: 3, floorIs: "floor", unit: "s" }),
        row({ section: "1 cold up", measure: "cold up, kv", value: 9, floor: 3, floorIs: "floor", unit: "s" }),
        row({ section: "2 scaling", measure: "8 hosts", value: null, floor: 10, floorIs: "2 hosts", unit: "s", note: "FAILED" }),
    ];
    it("reads each target's row, says met, NOT met or not measured (a missing or failed row)", () => {
        const results = checkTargets(rows, [
            { what: "cold up swarm", measure: "cold up, swarm", max: 1.8 },
            { what: "cold up kv", measure: "cold up, kv", max: 1.8 },
            { what: "scaling", measure: "8 hosts", max: 1.5 },
            { what: "absent", measure: "no such row", max: 2 },
        ]);
        expect(results.map((r) => r.met)).toEqual([true, false, null, null]);
        expect(renderTargets(results)).toEqual([
            "cold up swarm: 1.70× (target <= 1.8×): met",
            "cold up kv: 3.00× (target <= 1.8×): NOT met",
            "scaling: n/a (target <= 1.5×): not measured",
            "absent: n/a (target <= 2×): not measured",
        ]);
    });
});

describe("breakdown (bench/breakdown.ts): where the seconds of one up went", () => {
    const U = (type: string, name: string, parent = "docker-overlay:cluster:OverlayCluster") => `urn:pulumi:lab::docker-overlay::pulumi:pulumi:Stack$${parent}$${type}::${name}`;
    const stackUrn = "urn:pulumi:lab::docker-overlay::pulumi:pulumi:Stack::docker-overlay-lab";
    const ev = (at: number, kind: TimedEvent["kind"], urn?: string, op = "create"): TimedEvent => ({ at, kind, ...(urn ? { urn, op } : {}) });
    // A made-up run of 10 s: prelude at 0.5 s, the stack at 1.5 s, preflight until 3 s, two
    // facts commands side by side (3-4 s and 3.5-5 s), a daemon.json apply (5-8 s), a container
    // (8-9 s) that is unchanged, the engine alone until its summary at 9.5 s, then the CLI and the Automation API until 10 s.
    const events: TimedEvent[] = [
        ev(500, "prelude"),
        ev(1500, "pre", stackUrn),
        ev(3000, "pre", U("command:remote:Command", "overlay-lab1-facts")),
        ev(3500, "pre", U("command:remote:Command", "overlay-lab2-facts")),
        ev(4000, "outputs", U("command:remote:Command", "overlay-lab1-facts")),
        ev(5000, "outputs", U("command:remote:Command", "overlay-lab2-facts")),
        ev(5000, "pre", U("command:remote:Command", "overlay-lab1-daemon-config-apply")),
        ev(8000, "outputs", U("command:remote:Command", "overlay-lab1-daemon-config-apply")),
        ev(8000, "pre", U("docker:index/container:Container", "overlay-svc-web-container"), "same"),
        ev(9000, "outputs", U("docker:index/container:Container", "overlay-svc-web-container")),
        ev(9500, "summary"),
    ];

    it("splits the run into its phases, each kind of step (wall and summed), and the engine's own time", () => {
        const b = breakdown(events, 10_000, { lab1: 4, lab2: 2 });
        expect(b.total).toBe(10);
        expect(b.rows.map((r) => [r.what, r.count, r.wall, r.summed, r.floor])).toEqual([
            ["engine start (until its prelude event)", 1, 0.5, 0.5, false],
            ["program start (language host, Node, TypeScript) until the stack registers", 1, 1, 1, false],
            ["program: preflight over SSH, until the first resource", 1, 1.5, 1.5, false],
            ["ssh: host facts", 2, 2, 2.5, false],
            ["ssh: daemon.json + restart + wait", 1, 3, 3, true],
            ["docker: containers (0 of 1 changed)", 1, 1, 1, true],
            ["no step running: the engine between steps", 1, 0.5, 0.5, "n/a"],
            ["after the engine's summary: CLI exit, Automation API's `stack output` runs", 1, 0.5, 0.5, "n/a"],
        ]);
        // Every second of the run is in exactly one wall figure.
        expect(b.rows.reduce((a, r) => a + r.wall, 0)).toBeCloseTo(10, 6);
        const text = renderBreakdown("cold up", b);
        expect(text).toContain("cold up: 10.0 s in all");
        expect(text).toContain("SSH connections accepted: 6 (lab1 4, lab2 2)");
    });

    it("a step the run never ended ends with the run; union of intervals", () => {
        expect(steps([ev(100, "pre", U("docker:index/network:Network", "overlay-net-network"))], 400)).toMatchObject([{ name: "overlay-net-network", start: 100, end: 400 }]);
        expect(covered([[0, 2], [1, 3], [5, 6], [6, 6]])).toBe(4);
        expect(urnParts(U("command:remote:Command", "overlay-lab1-facts"))).toEqual({ type: "command:remote:Command", name: "overlay-lab1-facts" });
    });

    it("reads the engine's event objects and sshd's log", () => {
        expect(classify({ resourcePreEvent: { metadata: { urn: "u", op: "same" } } }, 7)).toEqual({ at: 7, kind: "pre", urn: "u", op: "same" });
        expect(classify({ resOutputsEvent: { metadata: { urn: "u", op: "same" } } }, 8)).toMatchObject({ kind: "outputs", urn: "u" });
        expect(classify({ preludeEvent: { config: {} } }, 1).kind).toBe("prelude");
        expect(classify({ diagnosticEvent: {} }, 1).kind).toBe("other");
        expect(acceptedCount("Accepted publickey for root from 10.210.0.1 port 1 ssh2\nConnection closed by 10.210.0.1\nAccepted publickey for root from 10.210.0.1 port 2 ssh2\n")).toBe(2);
    });
});

describe("engineLogBreakdown (bench/breakdown.ts): a no-op up by the engine's verbose log", () => {
    // A made-up log of the lines it reads, as the CLI writes them with --logtostderr -v=9: the
    // run starts at 0 (the log's first line at 0.4 s), the program runs at 0.6 s, its first
    // resource at 1.4 s (preflight), two plugins launched (1.5-1.6 s and 1.7-1.9 s), provider
    // calls 1.6-1.65, 1.62-1.7 (side by side) and 1.9-2.0 s, the program done at 2.5 s, the last
    // line at 2.6 s, and the run returned at 3.5 s.
    const T0 = Date.parse("2026-12-03T02:00:00.000Z");
    const line = (s: number, msg: string) => JSON.stringify({ time: new Date(T0 + s * 1000).toISOString().replace("Z", "123456Z"), level: "INFO", msg, v: 7 });
    const P = "urn:pulumi:lab::docker-overlay::pulumi:pulumi:Stack$command:remote:Command::overlay-lab1-facts";
    const text = [
        line(0.4, "OTLP receiver started"),
        "not JSON: skipped",
        line(0.6, "langhost[client].Run(pwd=/x,root=/x, program=/x, entryPoint=.,#args=1) executing"),
        line(0.61, "ResourceMonitor.RegisterResource received: t=pulumi:pulumi:Stack, name=s, custom=false"),
        line(1.4, "ResourceMonitor.RegisterResource received: t=command:remote:Command, name=overlay-lab1-facts"),
        line(1.5, "newPlugin(): Launching plugin 'command (resource)' from '/bin/pulumi-resource-command' with args: 127.0.0.1:1"),
        line(1.6, "Provider[0xa].GetPluginInfo() executing"),
        line(1.6, `Provider[0xa].Check(${P}) executing (#olds=4,#news=4)`),
        line(1.62, `Provider[0xa].Diff(${P},id1): executing (#oldInputs=4)`),
        line(1.65, `Provider[0xa].Check(${P}) success: inputs=#4 failures=#0`),
        line(1.7, `Provider[0xa].Diff(${P},id1) success: changes=1`),
        line(1.7, "newPlugin(): Launching plugin 'docker (resource)' from '/bin/pulumi-resource-docker' with args: 127.0.0.1:2"),
        line(1.9, "Provider[0xb].CheckConfig(urn:pulumi:lab::docker-overlay::pulumi:providers:docker::p) executing (#olds=2,#news=1)"),
        line(2.0, "Provider[0xb].CheckConfig(urn:pulumi:lab::docker-overlay::pulumi:providers:docker::p) success: inputs=#2 failures=#0"),
        line(2.5, "SignalAndWaitForShutdown waiting ..."),
        line(2.6, "Saved stack organization/docker-overlay/lab checkpoint to: x"),
    ].join("\n");

    it("reads the JSON lines and their times to the millisecond", () => {
        const lines = logLines(text);
        expect(lines).toHaveLength(15);
        expect(lines[0]).toEqual({ at: T0 + 400, msg: "OTLP receiver started" });
    });

    it("splits the run: before the log, the CLI, the program, the resources (plugins, calls, neither), the end, after the CLI", () => {
        const rows = engineLogBreakdown(logLines(text), T0, T0 + 3500);
        expect(rows.map((r) => [r.what, r.count, Number(r.wall.toFixed(3)), Number(r.summed.toFixed(3))])).toEqual([
            ["before the CLI's first log line (process start; Automation API: its own commands)", 1, 0.4, 0.4],
            ["CLI: stack, config, secrets, language host, until the program runs", 1, 0.2, 0.2],
            ["program until its first resource (preflight's SSH)", 1, 0.8, 0.8],
            ["resources, until the program finished (2 registered)", 2, 1.1, 1.1],
            ["  of which: plugin start (2 launched, until their first call)", 2, 0.3, 0.3],
            ["  of which: provider calls (Check, Diff, CheckConfig, DiffConfig, ...)", 3, 0.2, 0.23],
            ["  of which: neither (the program and the engine between calls)", 1, 0.6, 0.6],
            ["end: plugins stopped, checkpoint saved, until the CLI's last log line", 1, 0.1, 0.1],
            ["after the CLI's last log line, until the run returned (Automation API: `stack output`)", 1, 0.9, 0.9],
        ]);
        // The top-level rows cover the run exactly once.
        expect(rows.filter((r) => !r.what.startsWith(" ")).reduce((a, r) => a + r.wall, 0)).toBeCloseTo(3.5, 6);
        expect(renderEngineLog("no-op up", rows, 3.5)).toContain("no-op up: 3.5 s in all");
        expect(engineLogBreakdown([], T0, T0 + 1)).toEqual([]);
    });
});
