/** connectivity-check, kv-wait and host-facts (as up runs it), run for real with bash. */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeHost, runRendered, runStandalone } from "./harness";
import { parseHostFacts, summarize } from "../../components/hostFacts";

let host: FakeHost;
beforeEach(() => {
    host = new FakeHost();
});
afterEach(() => host.cleanup());

describe("connectivity-check", () => {
    function probeSetup(reachable: string[]): void {
        fs.writeFileSync(path.join(host.fakeState, "containers", "lab1-probe"), "");
        host.setState("reachable", reachable.map((r) => r + "\n").join(""));
    }
    const base = () => ({ DOCKER: host.commonVars().DOCKER!, HOST_LABEL: "lab1", PROBE: "lab1-probe" });

    it("reports every pair reachable by address and by name", async () => {
        probeSetup(["10.0.1.3", "lab2-probe", "10.0.1.4", "lab3-probe"]);
        const r = await runRendered("connectivity-check", { ...base(), TARGETS: ["lab2-probe=10.0.1.3", "lab3-probe=10.0.1.4"], PING_COUNT: 3, TIMEOUT_SECONDS: 2 }, host.fakeEnv());
        expect(r).toMatchObject({ code: 0, stderr: "" });
        expect(JSON.parse(r.stdout)).toEqual({
            from: "lab1",
            results: [
                { to: "lab2-probe", address: "10.0.1.3", byAddress: true, byName: true },
                { to: "lab3-probe", address: "10.0.1.4", byAddress: true, byName: true },
            ],
        });
        expect(r.stdout.split("\n")).toHaveLength(2); // one line plus the newline
        expect(host.state("calls.log")).toContain("exec lab1-probe ping -c 3 -W 2 10.0.1.3");
        expect(host.state("calls.log")).toContain("exec lab1-probe ping -c 3 -W 2 lab2-probe");
        // All four pings from one `docker exec` of the probe's shell, not one exec each.
        const execs = host.state("calls.log")!.split("\n").filter((c) => c.startsWith("exec lab1-probe sh -c "));
        expect(execs).toHaveLength(1);
    });

    it("asks again only the targets that did not answer, one at a time, in the same exec", async () => {
        probeSetup(["10.0.1.3", "lab2-probe", "10.0.1.4"]);
        // lab3-probe's name starts to resolve two seconds in.
        const later = setTimeout(() => host.setState("reachable", "10.0.1.3\nlab2-probe\n10.0.1.4\nlab3-probe\n"), 2000);
        const r = await runRendered("connectivity-check", { ...base(), TARGETS: ["lab2-probe=10.0.1.3", "lab3-probe=10.0.1.4"], SETTLE_SECONDS: 30, POLL_SECONDS: 1 }, host.fakeEnv());
        clearTimeout(later);
        expect(r).toMatchObject({ code: 0, stderr: "" });
        const calls = host.state("calls.log")!.split("\n");
        expect(calls.filter((c) => c.startsWith("exec lab1-probe sh -c "))).toHaveLength(1);
        for (const t of ["10.0.1.3", "lab2-probe", "10.0.1.4"]) expect(calls.filter((c) => c === `exec lab1-probe ping -c 1 -W 2 ${t}`), t).toHaveLength(1);
        expect(calls.filter((c) => c === "exec lab1-probe ping -c 1 -W 2 lab3-probe").length).toBeGreaterThanOrEqual(2);
    });

    it("pings one target at a time, with one exec each, when the probe image has no sh", async () => {
        probeSetup(["10.0.1.3", "lab2-probe"]);
        host.setState("probe-no-sh", "");
        const r = await runRendered("connectivity-check", { ...base(), TARGETS: ["lab2-probe=10.0.1.3"] }, host.fakeEnv());
        expect(r).toMatchObject({ code: 0, stderr: "" });
        expect(JSON.parse(r.stdout).results).toEqual([{ to: "lab2-probe", address: "10.0.1.3", byAddress: true, byName: true }]);
        const calls = host.state("calls.log")!.split("\n");
        expect(calls.filter((c) => /^exec lab1-probe ping -c 1 -W 2 (10\.0\.1\.3|lab2-probe)$/.test(c))).toHaveLength(2);
    });

    it("prints the JSON anyway and one stderr line per failing pair, then exits 1", async () => {
        probeSetup(["10.0.1.3", "10.0.1.4"]);
        const r = await runStandalone("connectivity-check", { ...base(), TARGETS: "lab2-probe=10.0.1.3 lab3-probe=10.0.1.4 lab4-probe=10.0.1.5", SETTLE_SECONDS: "0" }, host.fakeEnv());
        expect(r.code).toBe(1);
        expect(JSON.parse(r.stdout).results).toEqual([
            { to: "lab2-probe", address: "10.0.1.3", byAddress: true, byName: false },
            { to: "lab3-probe", address: "10.0.1.4", byAddress: true, byName: false },
            { to: "lab4-probe", address: "10.0.1.5", byAddress: false, byName: false },
        ]);
        expect(r.stderr).toBe(
            "docker-overlay: lab1 cannot reach lab2-probe (10.0.1.3) by name over the overlay\n" +
                "docker-overlay: lab1 cannot reach lab3-probe (10.0.1.4) by name over the overlay\n" +
                "docker-overlay: lab1 cannot reach lab4-probe (10.0.1.5) by address or by name over the overlay\n",
        );
    });

    it("retries a failing pair until it answers (the overlay's gossip still spreading), then passes", async () => {
        probeSetup(["10.0.1.3"]);
        // lab2-probe's name starts to resolve two seconds in.
        const later = setTimeout(() => host.setState("reachable", "10.0.1.3\nlab2-probe\n"), 2000);
        const t0 = Date.now();
        const r = await runRendered("connectivity-check", { ...base(), TARGETS: ["lab2-probe=10.0.1.3"], SETTLE_SECONDS: 30, POLL_SECONDS: 1 }, host.fakeEnv());
        clearTimeout(later);
        expect(r).toMatchObject({ code: 0, stderr: "" });
        expect(JSON.parse(r.stdout).results).toEqual([{ to: "lab2-probe", address: "10.0.1.3", byAddress: true, byName: true }]);
        expect(Date.now() - t0).toBeGreaterThanOrEqual(2000);
        // The address answered at once and is not asked again; the name is asked until it answers.
        const calls = host.state("calls.log")!.split("\n");
        expect(calls.filter((c) => c.endsWith("ping -c 1 -W 2 10.0.1.3"))).toHaveLength(1);
        expect(calls.filter((c) => c.endsWith("ping -c 1 -W 2 lab2-probe")).length).toBeGreaterThanOrEqual(2);
    });

    it("gives up after SETTLE_SECONDS and says how long it retried", async () => {
        probeSetup(["10.0.1.3"]);
        const r = await runRendered("connectivity-check", { ...base(), TARGETS: ["lab2-probe=10.0.1.3"], SETTLE_SECONDS: 2, POLL_SECONDS: 1 }, host.fakeEnv());
        expect(r.code).toBe(1);
        expect(r.stderr).toBe("docker-overlay: lab1 cannot reach lab2-probe (10.0.1.3) by name over the overlay (retried for 2s)\n");
    });

    it("prints an empty result for a one-host cluster", async () => {
        probeSetup([]);
        const r = await runRendered("connectivity-check", { ...base(), TARGETS: [] }, host.fakeEnv());
        expect(r).toMatchObject({ code: 0, stdout: '{"from":"lab1","results":[]}\n', stderr: "" });
    });

    it("fails at once, naming the probe, when the probe container is missing", async () => {
        const r = await runStandalone("connectivity-check", { ...base(), TARGETS: "lab2-probe=10.0.1.3" }, host.fakeEnv());
        expect(r.code).toBe(1);
        expect(r.stdout).toBe("");
        expect(r.stderr).toMatch(/^docker-overlay: lab1: the probe container lab1-probe is not there \(Error: No such object: lab1-probe\)/);
    });

    it("refuses a target that is not NAME=ADDRESS", async () => {
        probeSetup([]);
        const r = await runRendered("connectivity-check", { ...base(), TARGETS: ["lab2-probe=$(id)"] }, host.fakeEnv());
        expect(r.code).toBe(5);
        expect(r.stderr).toContain("TARGETS item 'lab2-probe=$(id)' is not NAME=ADDRESS");
        expect(host.state("calls.log") ?? "").toBe("");
    });

    it("escapes the host label in JSON", async () => {
        probeSetup([]);
        const r = await runRendered("connectivity-check", { ...base(), HOST_LABEL: 'lab "1"\\\t', TARGETS: [] }, host.fakeEnv());
        expect(JSON.parse(r.stdout).from).toBe('lab "1"\\\t');
    });
});

/** A tiny TCP server on 127.0.0.1 that answers every connection with `reply`. */
async function server(reply: (request: string) => string | undefined): Promise<{ port: number; close: () => Promise<void>; requests: string[] }> {
    const requests: string[] = [];
    const srv = net.createServer((socket) => {
        let data = "";
        socket.on("data", (chunk) => {
            data += chunk.toString("latin1");
            const complete = data.includes("\r\n\r\n") || /^[a-z]{4}$/.test(data);
            if (!complete) return;
            requests.push(data);
            const answer = reply(data);
            if (answer === undefined) return; // say nothing, keep the connection open
            socket.end(answer);
        });
        socket.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
    const port = (srv.address() as net.AddressInfo).port;
    return {
        port,
        requests,
        close: () =>
            new Promise<void>((resolve) => {
                srv.close(() => resolve());
                // connections left open by silent replies
                (srv as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
            }),
    };
}

function http(status: string, body: string): string {
    return `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

describe("kv-wait (against a local server on 127.0.0.1)", () => {
    function kvWait(backend: string, port: number | string, extra: Record<string, string> = {}) {
        return runStandalone("kv-wait", { BACKEND: backend, KV_ADDRESS: "127.0.0.1", KV_PORT: String(port), HOST_LABEL: "lab1", TIMEOUT_SECONDS: "3", POLL_SECONDS: "0.2", ...extra }, host.fakeEnv());
    }

    it("etcd: ready when GET /v2/keys is 200", async () => {
        const s = await server(() => http("200 OK", '{"action":"get","node":{"dir":true}}'));
        try {
            const r = await kvWait("etcd", s.port);
            expect(r).toMatchObject({ code: 0, stderr: "" });
            expect(r.stdout).toBe(`docker-overlay: lab1: etcd at 127.0.0.1:${s.port} on lab1 is ready\n`);
            expect(s.requests[0]).toMatch(/^GET \/v2\/keys HTTP\/1\.0\r\n/);
        } finally {
            await s.close();
        }
    });

    it("etcd: a 404 says the v2 API is off and how to turn it on", async () => {
        const s = await server(() => http("404 Not Found", "404 page not found\n"));
        try {
            const r = await kvWait("etcd", s.port, { TIMEOUT_SECONDS: "1" });
            expect(r.code).toBe(1);
            expect(r.stderr).toMatch(new RegExp(`^docker-overlay: lab1: etcd at 127\\.0\\.0\\.1:${s.port} on lab1 is not ready after 1s: etcd answers but GET /v2/keys is 404: its v2 API is off`));
            expect(r.stderr).toContain("--enable-v2");
            expect(r.stderr.trim().split("\n")).toHaveLength(1);
        } finally {
            await s.close();
        }
    });

    it("consul: waits for a leader", async () => {
        let calls = 0;
        const s = await server(() => http("200 OK", ++calls < 3 ? '""' : '"10.210.0.11:8300"'));
        try {
            const r = await kvWait("consul", s.port);
            expect(r.code).toBe(0);
            expect(calls).toBe(3);
            expect(s.requests[0]).toMatch(/^GET \/v1\/status\/leader HTTP\/1\.0\r\n/);
        } finally {
            await s.close();
        }
    });

    it("consul: no leader until the timeout says so", async () => {
        const s = await server(() => http("200 OK", '""'));
        try {
            const r = await kvWait("consul", s.port, { TIMEOUT_SECONDS: "1" });
            expect(r.code).toBe(1);
            expect(r.stderr).toContain("Consul answers but has no leader yet");
        } finally {
            await s.close();
        }
    });

    it("consul cluster: with EXPECT_MEMBERS waits until that many agents are alive, and says how many joined", async () => {
        const member = (status: number) => `{"Name":"n","Addr":"10.0.0.1","Status":${status},"Tags":{}}`;
        let alive = 3;
        const s = await server((req) =>
            req.startsWith("GET /v1/status/leader ") ? http("200 OK", '"10.210.0.11:8300"') : http("200 OK", `[${[...Array(5)].map((_, i) => member(i < alive ? 1 : 4)).join(",")}]`),
        );
        try {
            const short = await kvWait("consul", s.port, { EXPECT_MEMBERS: "5", TIMEOUT_SECONDS: "1" });
            expect(short.code).toBe(1);
            expect(short.stderr).toContain("is not ready after 1s: 3 of 5 Consul agents (servers and clients) have joined");
            alive = 5;
            const r = await kvWait("consul", s.port, { EXPECT_MEMBERS: "5" });
            expect(r.code).toBe(0);
            expect(s.requests.some((q) => q.startsWith("GET /v1/agent/members HTTP/1.0\r\n"))).toBe(true);
        } finally {
            await s.close();
        }
    });

    it("consul cluster: with EXPECT_VOTERS also waits until autopilot calls it healthy with that many voting servers", async () => {
        const voter = (name: string, votes: boolean) => `{"ID":"x","Name":"${name}","Healthy":true,"Voter":${votes}}`;
        let health = `{"Healthy":false,"FailureTolerance":0,"Servers":[${voter("lab1", true)},${voter("lab2", false)},${voter("lab3", true)}]}`;
        const s = await server((req) => {
            if (req.startsWith("GET /v1/status/leader ")) return http("200 OK", '"10.210.0.11:8300"');
            if (req.startsWith("GET /v1/agent/members ")) return http("200 OK", '[{"Status":1},{"Status":1},{"Status":1}]');
            return http("200 OK", health);
        });
        try {
            const waiting = await kvWait("consul", s.port, { EXPECT_MEMBERS: "3", EXPECT_VOTERS: "3", TIMEOUT_SECONDS: "1" });
            expect(waiting.code).toBe(1);
            expect(waiting.stderr).toContain("Consul's autopilot does not call the cluster healthy yet");
            health = `{"Healthy":true,"FailureTolerance":0,"Servers":[${voter("lab1", true)},${voter("lab2", false)},${voter("lab3", true)}]}`;
            expect((await kvWait("consul", s.port, { EXPECT_MEMBERS: "3", EXPECT_VOTERS: "3", TIMEOUT_SECONDS: "1" })).stderr).toContain("2 of 3 Consul servers vote");
            health = `{"Healthy":true,"FailureTolerance":1,"Servers":[${voter("lab1", true)},${voter("lab2", true)},${voter("lab3", true)}]}`;
            expect((await kvWait("consul", s.port, { EXPECT_MEMBERS: "3", EXPECT_VOTERS: "3" })).code).toBe(0);
        } finally {
            await s.close();
        }
    });

    it("etcd cluster: with EXPECT_MEMBERS waits until that many members have started", async () => {
        const started = (name: string) => `{"id":"1","name":"${name}","peerURLs":["http://a:2380"],"clientURLs":["http://a:2379"]}`;
        const unstarted = '{"id":"2","name":"","peerURLs":["http://b:2380"],"clientURLs":[]}';
        let members = [started("lab1"), started("lab2"), unstarted];
        const s = await server((req) => (req.startsWith("GET /v2/members ") ? http("200 OK", `{"members":[${members.join(",")}]}`) : http("200 OK", '{"action":"get"}')));
        try {
            const short = await kvWait("etcd", s.port, { EXPECT_MEMBERS: "3", TIMEOUT_SECONDS: "1" });
            expect(short.stderr).toContain("2 of 3 etcd members have joined");
            members = [started("lab1"), started("lab2"), started("lab3")];
            expect((await kvWait("etcd", s.port, { EXPECT_MEMBERS: "3" })).code).toBe(0);
        } finally {
            await s.close();
        }
    });

    it("times out clearly when nothing listens", async () => {
        const s = await server(() => "");
        const port = s.port;
        await s.close(); // the port is now closed
        const started = Date.now();
        const r = await kvWait("etcd", port, { TIMEOUT_SECONDS: "1" });
        expect(r.code).toBe(1);
        expect(r.stderr).toBe(`docker-overlay: lab1: etcd at 127.0.0.1:${port} on lab1 is not ready after 1s: nothing answered on that port. Check that the store runs and that ${port}/tcp is open between the hosts.\n`);
        expect(Date.now() - started).toBeLessThan(5000);
    });

    it("names the store as the daemons will use it when STORE_URL is given (Consul here)", async () => {
        const s = await server(() => "");
        const port = s.port;
        await s.close();
        const r = await kvWait("consul", port, { TIMEOUT_SECONDS: "1", STORE_URL: "consul://10.210.0.11:8500" });
        expect(r.code).toBe(1);
        expect(r.stderr).toBe(
            `docker-overlay: lab1: consul at 127.0.0.1:${port} on lab1 (the daemons' cluster store consul://10.210.0.11:8500) is not ready after 1s: nothing answered on that port. Check that the store runs and that ${port}/tcp is open between the hosts.\n`,
        );
    });

    it("does not hang on a peer that accepts and says nothing", async () => {
        const s = await server(() => undefined);
        try {
            const started = Date.now();
            const r = await kvWait("etcd", s.port, { TIMEOUT_SECONDS: "1" });
            expect(r.code).toBe(1);
            expect(r.stderr).toContain("nothing answered on that port");
            expect(Date.now() - started).toBeLessThan(5000);
        } finally {
            await s.close();
        }
    });

    it("refuses an unknown backend", async () => {
        const r = await kvWait("redis", 1);
        expect(r.code).toBe(5);
        expect(r.stderr).toContain("BACKEND must be consul or etcd, got 'redis'");
        // ZooKeeper, which Docker accepts too, is refused by the config (ZOOKEEPER_REFUSED).
        expect((await kvWait("zookeeper", 1)).code).toBe(5);
    });
});

describe("host-facts as `up` runs it (STRICT, one peer; this machine's real interfaces, fake docker)", () => {
    function facts(target: string) {
        return runRendered("host-facts", { DOCKER: host.commonVars().DOCKER!, HOST_LABEL: "lab1", PEERS: [target], STRICT: 1 }, host.fakeEnv());
    }
    /** What DockerHost keeps of the line: the same parser and summary it uses. */
    const summary = (stdout: string, target: string) => summarize(parseHostFacts(stdout), target);
    /** A non-loopback IPv4 address of this machine and its interface, from `ip -o -4 addr`. */
    function realAddress(): { iface: string; address: string } | undefined {
        for (const line of execFileSync("ip", ["-o", "-4", "addr", "show"], { encoding: "utf8" }).split("\n")) {
            const f = line.split(/\s+/);
            if (f[1] && f[1] !== "lo" && f[3]) return { iface: f[1].replace(/@.*/, ""), address: f[3].replace(/\/.*/, "") };
        }
        return undefined;
    }

    it("loopback: interface lo with its MTU, and the engine's facts", async () => {
        host.setState("cluster-store", "etcd://10.210.0.11:2379");
        host.setState("name", "lab1-daemon");
        const r = await facts("127.0.0.1");
        expect(r).toMatchObject({ code: 0, stderr: "" });
        expect(summary(r.stdout, "127.0.0.1")).toEqual({
            hostname: execFileSync("uname", ["-n"], { encoding: "utf8" }).trim(),
            engineVersion: "20.10.24",
            interface: "lo",
            address: "127.0.0.1",
            mtu: Number(fs.readFileSync("/sys/class/net/lo/mtu", "utf8")),
            swarmState: "inactive",
            engineId: "FAKE:ENGINE:ID",
            clusterStore: "etcd://10.210.0.11:2379",
            daemonName: "lab1-daemon",
        });
    });

    it("this host's own address: the interface that carries it, not lo", async () => {
        const real = realAddress();
        expect(real, "this test needs a non-loopback IPv4 address on the machine").toBeDefined();
        const r = await facts(real!.address);
        expect(r.code).toBe(0);
        const out = summary(r.stdout, real!.address);
        expect(out).toMatchObject({ interface: real!.iface, address: real!.address });
        expect(out.mtu).toBe(Number(fs.readFileSync(`/sys/class/net/${real!.iface}/mtu`, "utf8")));
    });

    it("fails clearly when Docker is not answering", async () => {
        host.setState("running", undefined);
        const r = await facts("127.0.0.1");
        expect(r.code).toBe(1);
        expect(r.stdout).toBe("");
        expect(r.stderr).toMatch(/^docker-overlay: lab1: Docker is not answering \(Cannot connect to the Docker daemon/);
    });

    it("fails clearly for a name this host cannot resolve", async () => {
        const r = await facts("not-an-address.invalid");
        expect(r.code).toBe(1);
        expect(r.stderr).toBe("docker-overlay: lab1: this host cannot resolve not-an-address.invalid (getent ahosts): add it to its DNS or /etc/hosts, or give the address as an IP\n");
    });

    it("resolves a DNS name as the host does (hosts[].address may be one), and routes to its address", async () => {
        const r = await facts("localhost");
        expect(r.code, r.stderr).toBe(0);
        expect(summary(r.stdout, "localhost")).toMatchObject({ interface: "lo", address: "127.0.0.1" });
    });
});
