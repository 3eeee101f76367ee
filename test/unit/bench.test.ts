// The benchmark's pure helpers (bench/stats.ts): the figures it prints are only as good as these.
import { describe, expect, it } from "vitest";
import { fmt, fmtRatio, mean, median, parseIperfReceived, parsePingTimes, parseVmHWM, ratio, renderMarkdown, renderText, row } from "../../bench/stats";

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
