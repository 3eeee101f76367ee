import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mergeDaemonJson } from "../../components/daemonJson";
import { FAKE_LOG, FAKE_RESTART, FakeHost, runRendered, runStandalone, type RunResult } from "./harness";

const STORE = "etcd://10.210.0.11:2379";
const ORIGINAL = '{\r\n  "log-level": "warn",\n  "registry-mirrors": ["https://mirror.example"],\n  "labels": ["café=\u00e9"]\n}'; // CRLF, no final newline

let host: FakeHost;
beforeEach(() => {
    host = new FakeHost();
});
afterEach(() => host.cleanup());

function b64(s: string): string {
    return Buffer.from(s, "utf8").toString("base64");
}

function backup(action?: "forget"): Promise<RunResult> {
    return runStandalone("daemon-config-backup", { ...host.commonVars(), ...(action ? { ACTION: action } : {}) }, host.fakeEnv());
}

function applyVars(content: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
        ...host.commonVars(),
        CONTENT_BASE64: b64(content),
        EXPECT_CLUSTER_STORE: STORE,
        RESTART_COMMAND: FAKE_RESTART,
        DAEMON_LOG_COMMAND: FAKE_LOG,
        SYSTEMD_UNIT_PATHS: "",
        WAIT_SECONDS: "2",
        POLL_SECONDS: "0.1",
        ...extra,
    };
}

function apply(content: string, extra: Record<string, string> = {}): Promise<RunResult> {
    return runStandalone("daemon-config-apply", applyVars(content, extra), host.fakeEnv());
}

function restore(extra: Record<string, string> = {}): Promise<RunResult> {
    return runStandalone(
        "daemon-config-restore",
        { ...host.commonVars(), RESTART_COMMAND: FAKE_RESTART, DAEMON_LOG_COMMAND: FAKE_LOG, WAIT_SECONDS: "2", POLL_SECONDS: "0.1", ...extra },
        host.fakeEnv(),
    );
}

function merged(original: string | undefined, extra: Record<string, unknown> = {}): string {
    const base = mergeDaemonJson(original, { clusterStore: STORE, clusterAdvertise: "eth0:2376" }, "lab1");
    if (Object.keys(extra).length === 0) return base;
    return JSON.stringify({ ...JSON.parse(base), ...extra }, null, 2) + "\n";
}

function writeOriginal(content: string, mode = 0o640): void {
    fs.writeFileSync(host.daemonJson, content);
    fs.chmodSync(host.daemonJson, mode);
}

function modeOf(file: string): number {
    return fs.statSync(file).mode & 0o777;
}

function oneErrorLine(stderr: string): string {
    const lines = stderr.split("\n").filter((l) => l !== "");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^docker-overlay: lab1: /);
    return lines[0]!;
}

describe("daemon-config-backup", () => {
    it("records that there was no daemon.json", async () => {
        const r = await backup();
        expect(r).toMatchObject({ code: 0, stderr: "" });
        expect(JSON.parse(r.stdout)).toEqual({ present: false, contentBase64: "" });
        expect(fs.existsSync(path.join(host.stateDir, "daemon.json.orig-absent"))).toBe(true);
        expect(fs.existsSync(host.daemonJson)).toBe(false);
    });

    it("keeps an existing daemon.json byte for byte with its mode", async () => {
        writeOriginal(ORIGINAL, 0o640);
        const r = await backup();
        expect(r.code).toBe(0);
        expect(JSON.parse(r.stdout)).toEqual({ present: true, contentBase64: b64(ORIGINAL) });
        const kept = path.join(host.stateDir, "daemon.json.orig");
        expect(fs.readFileSync(kept)).toEqual(Buffer.from(ORIGINAL, "utf8"));
        expect(modeOf(kept)).toBe(0o640);
        expect(modeOf(host.stateDir)).toBe(0o700);
    });

    it("keeps the first backup on later runs, even when daemon.json changed since", async () => {
        writeOriginal(ORIGINAL);
        await backup();
        fs.writeFileSync(host.daemonJson, '{"cluster-store":"etcd://x:2379"}\n');
        const r = await backup();
        expect(JSON.parse(r.stdout)).toEqual({ present: true, contentBase64: b64(ORIGINAL) });
        expect(fs.readFileSync(path.join(host.stateDir, "daemon.json.orig"), "utf8")).toBe(ORIGINAL);
    });

    it("keeps 'there was none' even after a file appeared", async () => {
        await backup();
        fs.writeFileSync(host.daemonJson, "{}\n");
        expect(JSON.parse((await backup()).stdout)).toEqual({ present: false, contentBase64: "" });
    });

    it("forget removes the backup, the rollback copy and the state dir when empty", async () => {
        writeOriginal(ORIGINAL);
        await backup();
        expect((await apply(merged(ORIGINAL))).code).toBe(0);
        expect((await restore()).code).toBe(0);
        const r = await backup("forget");
        expect(r).toMatchObject({ code: 0, stdout: '{"forgotten":true}\n' });
        expect(fs.existsSync(host.stateDir)).toBe(false);
        expect((await backup("forget")).code).toBe(0);
    });

    it("forget keeps the original while daemon.json is still the file docker-overlay wrote (a run killed during up)", async () => {
        writeOriginal(ORIGINAL);
        await backup();
        expect((await apply(merged(ORIGINAL))).code).toBe(0);
        const r = await backup("forget");
        expect(r.code).toBe(1);
        expect(oneErrorLine(r.stderr)).toContain("is still the file docker-overlay wrote; the original in");
        expect(fs.readFileSync(path.join(host.stateDir, "daemon.json.orig"), "utf8")).toBe(ORIGINAL);
    });
});

describe("daemon-config-apply", () => {
    it("writes the file, restarts, and waits for the daemon to report the cluster store", async () => {
        writeOriginal(ORIGINAL, 0o600);
        await backup();
        const content = merged(ORIGINAL);
        const r = await apply(content);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.stdout).toBe(`docker-overlay: lab1: Docker restarted with cluster store ${STORE}\n`);
        expect(fs.readFileSync(host.daemonJson, "utf8")).toBe(content);
        expect(modeOf(host.daemonJson)).toBe(0o644);
        expect(host.state("cluster-store")).toBe(STORE);
        expect(host.restarts).toBe(1);
        expect(host.running).toBe(true);
        // the rollback copy is the file as it was, mode included
        const prev = path.join(host.stateDir, "daemon.json.prev");
        expect(fs.readFileSync(prev, "utf8")).toBe(ORIGINAL);
        expect(modeOf(prev)).toBe(0o600);
        // no temporary files left next to daemon.json
        expect(fs.readdirSync(host.configDir)).toEqual(["daemon.json"]);
    });

    it("works when run the way the component runs it (renderScript, on stdin to scriptCommand, arrays as argv)", async () => {
        const vars = { ...applyVars(merged(undefined)), RESTART_COMMAND: [FAKE_RESTART], DAEMON_LOG_COMMAND: [FAKE_LOG], SYSTEMD_UNIT_PATHS: [] };
        const r = await runRendered("daemon-config-apply", vars, host.fakeEnv());
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(host.state("cluster-store")).toBe(STORE);
        // apply kept the original itself when backup had not run: there was no file
        expect(fs.existsSync(path.join(host.stateDir, "daemon.json.orig-absent"))).toBe(true);
    });

    it("is a no-op when the file and the daemon are already configured (no restart)", async () => {
        await backup();
        const content = merged(undefined);
        expect((await apply(content)).code).toBe(0);
        const r = await apply(content);
        expect(r).toMatchObject({ code: 0, stderr: "" });
        expect(r.stdout).toContain("already configured");
        expect(host.restarts).toBe(1);
    });

    it("restarts again when the file is ours but the daemon does not report it yet", async () => {
        await backup();
        const content = merged(undefined);
        await apply(content);
        host.setState("cluster-store", ""); // as if dockerd had been started without reading it
        const r = await apply(content);
        expect(r.code).toBe(0);
        expect(host.restarts).toBe(2);
    });

    for (const version of ["23.0.0", "24.0.7", "28.2.2"]) {
        it(`refuses Engine ${version} with exit 3 before touching anything`, async () => {
            writeOriginal(ORIGINAL);
            const before = fs.statSync(host.daemonJson);
            host.engineVersion = version;
            const r = await apply(merged(ORIGINAL));
            expect(r.code).toBe(3);
            const line = oneErrorLine(r.stderr);
            expect(line).toContain(`Docker Engine ${version}`);
            expect(line).toContain("mode: swarm");
            expect(fs.readFileSync(host.daemonJson, "utf8")).toBe(ORIGINAL);
            expect(fs.statSync(host.daemonJson).mtimeMs).toBe(before.mtimeMs);
            expect(host.restarts).toBe(0);
            expect(fs.existsSync(host.stateDir)).toBe(false);
        });
    }

    it("accepts Engine 22.06 and 19.03", async () => {
        for (const version of ["22.06.0-beta.0", "19.03.15"]) {
            host.engineVersion = version;
            host.setState("cluster-store", "");
            expect((await apply(merged(undefined))).code).toBe(0);
        }
    });

    it("refuses with exit 4 when a systemd drop-in sets --cluster-store, naming the file", async () => {
        const dropins = path.join(host.root, "docker.service.d");
        fs.mkdirSync(dropins);
        fs.writeFileSync(path.join(dropins, "10-other.conf"), "[Service]\n# ExecStart=/usr/bin/dockerd --cluster-store=consul://old:8500\n");
        fs.writeFileSync(path.join(dropins, "override.conf"), "[Service]\nExecStart=\nExecStart=/usr/bin/dockerd -H fd:// --cluster-store=consul://10.0.0.1:8500 --cluster-advertise=ens33:2375\n");
        writeOriginal(ORIGINAL);
        const r = await apply(merged(ORIGINAL), { SYSTEMD_UNIT_PATHS: `${path.join(host.root, "missing.service")} ${dropins}` });
        expect(r.code).toBe(4);
        const line = oneErrorLine(r.stderr);
        expect(line).toContain(`${path.join(dropins, "override.conf")} line 3 sets --cluster-store`);
        expect(fs.readFileSync(host.daemonJson, "utf8")).toBe(ORIGINAL);
        expect(host.restarts).toBe(0);
    });

    it("ignores commented-out flags and finds them in an EnvironmentFile like /etc/default/docker", async () => {
        const unit = path.join(host.root, "docker.service");
        fs.writeFileSync(unit, "[Service]\n; ExecStart=/usr/bin/dockerd --cluster-advertise=eth0:2376\nExecStart=/usr/bin/dockerd $DOCKER_OPTS\n");
        expect((await apply(merged(undefined), { SYSTEMD_UNIT_PATHS: unit })).code).toBe(0);

        const defaults = path.join(host.root, "default-docker");
        fs.writeFileSync(defaults, 'DOCKER_OPTS="--cluster-store-opt kv.path=/x"\n');
        const r = await apply(merged(undefined), { SYSTEMD_UNIT_PATHS: `${unit} ${defaults}` });
        expect(r.code).toBe(4);
        expect(oneErrorLine(r.stderr)).toContain(`${defaults} line 1 sets --cluster-store-opt`);
    });

    it("waits for the daemon's gossip port after the restart when GOSSIP_ADDRESS is given", async () => {
        const server = net.createServer((c) => c.end());
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        const port = (server.address() as net.AddressInfo).port;
        try {
            writeOriginal(ORIGINAL);
            await backup();
            const r = await apply(merged(ORIGINAL), { GOSSIP_ADDRESS: `127.0.0.1:${port}` });
            expect(r.code).toBe(0);
            expect(fs.readFileSync(host.daemonJson, "utf8")).toBe(merged(ORIGINAL));
        } finally {
            server.close();
        }
    });

    it("rolls back when the daemon has its store but its gossip port never opens", async () => {
        const server = net.createServer();
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        const port = (server.address() as net.AddressInfo).port;
        server.close(); // a port that was free a moment ago: nothing listens there now
        writeOriginal(ORIGINAL, 0o640);
        await backup();
        const r = await apply(merged(ORIGINAL), { GOSSIP_ADDRESS: `127.0.0.1:${port}` });
        expect(r.code).toBe(1);
        const line = oneErrorLine(r.stderr);
        expect(line).toContain(`its gossip port 127.0.0.1:${port} did not open within 2s`);
        expect(line).toContain("Docker is running again");
        expect(fs.readFileSync(host.daemonJson, "utf8")).toBe(ORIGINAL);
        expect(modeOf(host.daemonJson)).toBe(0o640);
    });

    it("rolls back byte for byte when Docker will not start, and says why", async () => {
        writeOriginal(ORIGINAL, 0o640);
        await backup();
        const r = await apply(merged(ORIGINAL, { "bad-option": true }));
        expect(r.code).toBe(1);
        expect(r.stdout).toBe("");
        const line = oneErrorLine(r.stderr);
        expect(line).toContain("Docker did not come back with the new daemon.json");
        expect(line).toContain("don't match any configuration option: bad-option"); // the daemon's own error
        expect(line).toContain("Job for docker.service failed"); // the restart command's stderr
        expect(line).toContain(`The previous ${host.daemonJson} was restored and Docker is running again`);
        expect(fs.readFileSync(host.daemonJson)).toEqual(Buffer.from(ORIGINAL, "utf8"));
        expect(modeOf(host.daemonJson)).toBe(0o640);
        expect(host.running).toBe(true);
        expect(host.state("cluster-store")).toBe("");
        expect(host.restarts).toBe(2);
        // The record of what docker-overlay wrote follows the rollback: no drift to see after it.
        expect(fs.readFileSync(path.join(host.stateDir, "daemon.json.ours"), "utf8")).toBe(ORIGINAL);
    });

    it("stops a restart command that hangs after WAIT_SECONDS and rolls back, within a bound", async () => {
        writeOriginal(ORIGINAL, 0o640);
        await backup();
        // The first restart hangs (like a wedged `systemctl restart`); the rollback's restart works.
        const hangOnce = `if [ ! -e "$FAKE_DOCKER_STATE/hung" ]; then touch "$FAKE_DOCKER_STATE/hung"; exec sleep 300; fi; exec "$0"`;
        const vars = { ...applyVars(merged(ORIGINAL)), RESTART_COMMAND: ["bash", "-c", hangOnce, FAKE_RESTART], DAEMON_LOG_COMMAND: [FAKE_LOG], SYSTEMD_UNIT_PATHS: [] };
        const started = Date.now();
        const r = await runRendered("daemon-config-apply", vars, host.fakeEnv(), 60_000);
        const seconds = (Date.now() - started) / 1000;
        expect(r.code).toBe(1);
        const line = oneErrorLine(r.stderr);
        expect(line).toContain("did not finish within 2 seconds and was stopped");
        expect(line).toContain("was restored and Docker is running again");
        expect(fs.readFileSync(host.daemonJson)).toEqual(Buffer.from(ORIGINAL, "utf8"));
        expect(host.running).toBe(true);
        // bounded by WAIT_SECONDS (2) per restart and wait, not by the 300 s the command would take
        expect(seconds).toBeLessThan(40);
    });

    it("keeps a daemon log line of 100 KiB out of the engine's log: the error quotes at most 400 characters of it", async () => {
        writeOriginal(ORIGINAL, 0o640);
        await backup();
        const hugeLog = `head -c 102400 /dev/zero | tr '\\0' x; echo " failed to start daemon: huge"`;
        const vars = { ...applyVars(merged(ORIGINAL, { "bad-option": true })), RESTART_COMMAND: [FAKE_RESTART], DAEMON_LOG_COMMAND: ["bash", "-c", hugeLog], SYSTEMD_UNIT_PATHS: [] };
        // runRendered itself fails a run that writes a line over LOGGED_LINE_LIMIT to a logged stream
        const r = await runRendered("daemon-config-apply", vars, host.fakeEnv());
        expect(r.code).toBe(1);
        expect(oneErrorLine(r.stderr)).toMatch(/daemon log: "x{300,400}\.\.\."/);
    });

    it("names a restart command whose words hold blanks, quotes or newlines as words, on one line", async () => {
        writeOriginal(ORIGINAL, 0o640);
        await backup();
        const odd = "x $(touch /tmp/docker-overlay-canary)\nnext line";
        const vars = { ...applyVars(merged(ORIGINAL, { "bad-option": true })), RESTART_COMMAND: ["env", `ODD=${odd}`, FAKE_RESTART], DAEMON_LOG_COMMAND: [FAKE_LOG], SYSTEMD_UNIT_PATHS: [] };
        const r = await runRendered("daemon-config-apply", vars, host.fakeEnv());
        expect(r.code).toBe(1);
        const line = oneErrorLine(r.stderr);
        expect(line).toContain(`env $'ODD=x $(touch /tmp/docker-overlay-canary)\\nnext line' ${FAKE_RESTART} failed`);
        expect(fs.existsSync("/tmp/docker-overlay-canary")).toBe(false);
        expect(fs.readFileSync(host.daemonJson)).toEqual(Buffer.from(ORIGINAL, "utf8"));
    });

    it("removes daemon.json again on rollback when there was none", async () => {
        await backup();
        const r = await apply(merged(undefined, { "bad-option": 1 }));
        expect(r.code).toBe(1);
        expect(oneErrorLine(r.stderr)).toContain("was removed again (there was none before)");
        expect(fs.existsSync(host.daemonJson)).toBe(false);
        expect(host.running).toBe(true);
    });

    it("rolls back when the daemon starts but never reports the cluster store", async () => {
        writeOriginal(ORIGINAL);
        // the daemon takes the file but reports another store (e.g. a flag elsewhere wins)
        const r = await apply(merged(ORIGINAL), { EXPECT_CLUSTER_STORE: "etcd://10.210.0.99:2379", WAIT_SECONDS: "1" });
        expect(r.code).toBe(1);
        expect(oneErrorLine(r.stderr)).toContain(`the daemon was answering with cluster store '${STORE}'`);
        expect(fs.readFileSync(host.daemonJson, "utf8")).toBe(ORIGINAL);
        expect(host.running).toBe(true);
    });

    it("says loudly, with exit 2, when Docker does not come back even with the previous file", async () => {
        writeOriginal(ORIGINAL);
        host.setState("fail-always", "");
        const r = await apply(merged(ORIGINAL));
        expect(r.code).toBe(2);
        const line = oneErrorLine(r.stderr);
        expect(line).toContain("DOCKER IS NOT RUNNING");
        expect(line).toContain("refuses every start");
        expect(fs.readFileSync(host.daemonJson, "utf8")).toBe(ORIGINAL);
    });

    it("changes nothing when Docker is not answering to begin with", async () => {
        writeOriginal(ORIGINAL);
        host.setState("running", undefined);
        const r = await apply(merged(ORIGINAL));
        expect(r.code).toBe(1);
        expect(oneErrorLine(r.stderr)).toContain("Docker is not answering (Cannot connect to the Docker daemon");
        expect(fs.readFileSync(host.daemonJson, "utf8")).toBe(ORIGINAL);
        expect(host.restarts).toBe(0);
    });

    it("refuses bad input with exit 5 and changes nothing", async () => {
        writeOriginal(ORIGINAL);
        const r = await apply("", { CONTENT_BASE64: "not*base64!" });
        expect(r.code).toBe(5);
        expect(oneErrorLine(r.stderr)).toContain("CONTENT_BASE64 is not valid base64");
        expect(fs.readFileSync(host.daemonJson, "utf8")).toBe(ORIGINAL);
        expect((await apply(merged(undefined), { RESTART_COMMAND: "" })).code).toBe(5);
    });

    describe("reading the daemon's cluster store across docker CLI versions", () => {
        it("sees it through dial-stdio with a 28.x client (which has no ClusterStore field)", async () => {
            host.client = "28";
            expect((await apply(merged(undefined))).code).toBe(0);
            const calls = host.state("calls.log")!;
            expect(calls).toContain("system dial-stdio");
            expect(calls).not.toContain("{{.ClusterStore}}");
        });

        it("falls back to `info --format '{{json .}}'` when dial-stdio is missing (an old client knows the field)", async () => {
            host.client = "20.10";
            host.noDialStdio = true;
            expect((await apply(merged(undefined))).code).toBe(0);
            expect(host.state("calls.log")).toContain("info --format {{json .}}");
        });

        it("(why dial-stdio) a 28.x client's `{{json .}}` never shows it, so that route alone would roll back", async () => {
            host.client = "28";
            host.noDialStdio = true;
            const r = await apply(merged(undefined), { WAIT_SECONDS: "1" });
            expect(r.code).toBe(1);
            expect(oneErrorLine(r.stderr)).toContain("answering with cluster store ''");
        });
    });
});

describe("daemon-config-apply run again for drift (a daemon.json edited by hand since up)", () => {
    it("writes our keys again, keeps what the person changed, and records the epoch it ran with", async () => {
        writeOriginal(ORIGINAL);
        await backup();
        expect((await apply(merged(ORIGINAL), { APPLY_EPOCH: "0" })).code).toBe(0);
        expect(fs.readFileSync(path.join(host.stateDir, "apply-epoch"), "utf8")).toBe("0\n");
        // By hand: our store removed, a key added.
        const edited = JSON.stringify({ ...JSON.parse(fs.readFileSync(host.daemonJson, "utf8")), "cluster-store": undefined, debug: true }, null, 2) + "\n";
        fs.writeFileSync(host.daemonJson, edited);
        const r = await apply(merged(ORIGINAL), { APPLY_EPOCH: "1" });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain("was edited since the last up: docker-overlay's keys are written again, the rest is kept as edited");
        const now = JSON.parse(fs.readFileSync(host.daemonJson, "utf8"));
        expect(now).toMatchObject({ debug: true, "cluster-store": STORE, "cluster-advertise": "eth0:2376", "log-level": "warn" });
        expect(host.state("cluster-store")).toBe(STORE);
        expect(fs.readFileSync(path.join(host.stateDir, "apply-epoch"), "utf8")).toBe("1\n");
        expect(fs.readFileSync(path.join(host.stateDir, "daemon.json.ours"), "utf8")).toBe(fs.readFileSync(host.daemonJson, "utf8"));
        // The person makes the file exactly what up would write: up changes nothing, restarts
        // nothing, and takes the file as its own (no drift at the next preview).
        const restartsBefore = host.restarts;
        const edits = fs.readFileSync(host.daemonJson, "utf8");
        fs.writeFileSync(host.daemonJson, edits.replace(/\s*"debug": true,?/, "").replace(",\n}", "\n}"));
        const asUp = await apply(merged(ORIGINAL), { APPLY_EPOCH: "2" });
        expect(asUp.code, asUp.stderr).toBe(0);
        expect(fs.readFileSync(path.join(host.stateDir, "daemon.json.ours"), "utf8")).toBe(fs.readFileSync(host.daemonJson, "utf8"));
        expect(fs.readFileSync(path.join(host.stateDir, "apply-epoch"), "utf8")).toBe("2\n");
        fs.writeFileSync(host.daemonJson, edits);
        expect((await apply(merged(ORIGINAL), { APPLY_EPOCH: "3" })).code).toBe(0);
        expect(host.restarts).toBeGreaterThanOrEqual(restartsBefore);
        // A later change of the stack keeps the person's key too (the file holds edits now) ...
        const moved = merged(ORIGINAL).replace(STORE, "etcd://10.210.0.12:2379");
        expect((await apply(moved, { APPLY_EPOCH: "1", EXPECT_CLUSTER_STORE: "etcd://10.210.0.12:2379" })).code).toBe(0);
        expect(JSON.parse(fs.readFileSync(host.daemonJson, "utf8"))).toMatchObject({ debug: true, "cluster-store": "etcd://10.210.0.12:2379" });
        // ... and so does destroy, which takes out only our keys.
        expect((await restore({ FORGET: "true" })).code).toBe(0);
        expect(JSON.parse(fs.readFileSync(host.daemonJson, "utf8"))).toEqual({ ...JSON.parse(ORIGINAL), debug: true });
        expect(fs.existsSync(host.stateDir)).toBe(false);
    });
});

describe("daemon-config-restore: a daemon.json changed after up, a symlink, a run killed during up", () => {
    it("takes out only our keys from a file edited after up, keeping every other byte, its mode, and Docker running", async () => {
        writeOriginal(ORIGINAL, 0o640);
        await backup();
        await apply(merged(ORIGINAL));
        // Someone adds a key and changes another after up (keeping our keys), formatted their way.
        const ours = fs.readFileSync(host.daemonJson, "utf8");
        const edited = ours.replace('"log-level": "warn"', '"log-level": "debug"').replace(/\n}\n?$/, ',\n  "max-concurrent-downloads": 12345678901234567890\n}\n');
        fs.writeFileSync(host.daemonJson, edited);
        fs.chmodSync(host.daemonJson, 0o600);
        const r = await restore();
        expect(r).toMatchObject({ code: 0, stderr: "" });
        expect(r.stdout).toContain("docker-overlay's keys are out of");
        const now = fs.readFileSync(host.daemonJson, "utf8");
        expect(now).not.toMatch(/cluster-/);
        expect(now).toContain('"log-level": "debug"');
        // The number JSON.parse would round is kept as written.
        expect(now).toContain("12345678901234567890");
        expect(JSON.parse(now)).toMatchObject({ "log-level": "debug", "registry-mirrors": ["https://mirror.example"] });
        expect(modeOf(host.daemonJson)).toBe(0o600);
        expect(host.state("cluster-store")).toBe("");
        // Again: nothing to do, no restart.
        const restarts = host.restarts;
        expect((await restore()).stdout).toContain("nothing to do");
        expect(host.restarts).toBe(restarts);
    });

    it("keeps a file that did not exist before up when someone put their own keys in it", async () => {
        await backup();
        await apply(merged(undefined));
        fs.writeFileSync(host.daemonJson, fs.readFileSync(host.daemonJson, "utf8").replace(/^{/, '{\n  "debug": true,'));
        expect((await restore()).code).toBe(0);
        expect(JSON.parse(fs.readFileSync(host.daemonJson, "utf8"))).toEqual({ debug: true });
    });

    it("removes a file that did not exist before up when only our keys are in it, even reformatted", async () => {
        await backup();
        await apply(merged(undefined));
        fs.writeFileSync(host.daemonJson, JSON.stringify(JSON.parse(fs.readFileSync(host.daemonJson, "utf8"))) + "\n");
        const r = await restore();
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("nothing but its keys is left in it");
        expect(fs.existsSync(host.daemonJson)).toBe(false);
    });

    it("puts back the values the original had for our keys", async () => {
        const seeded = '{\n  "cluster-store-opts": {"discovery.ttl": "90"},\n  "debug": false\n}\n';
        writeOriginal(seeded);
        await backup();
        await apply(merged(seeded));
        fs.writeFileSync(host.daemonJson, fs.readFileSync(host.daemonJson, "utf8").replace('"debug": false', '"debug": true'));
        expect((await restore()).code).toBe(0);
        expect(JSON.parse(fs.readFileSync(host.daemonJson, "utf8"))).toEqual({ debug: true, "cluster-store-opts": { "discovery.ttl": "90" } });
    });

    it("refuses an edit it cannot read as one JSON object, changing nothing", async () => {
        writeOriginal(ORIGINAL);
        await backup();
        await apply(merged(ORIGINAL));
        fs.writeFileSync(host.daemonJson, '{"cluster-store": "x", // a comment\n}\n');
        const restarts = host.restarts;
        const r = await restore();
        expect(r.code).toBe(1);
        expect(oneErrorLine(r.stderr)).toContain("was edited after docker-overlay wrote it and cannot be read as one JSON object");
        expect(fs.readFileSync(host.daemonJson, "utf8")).toBe('{"cluster-store": "x", // a comment\n}\n');
        expect(host.restarts).toBe(restarts);
    });

    it("writes through a daemon.json that is a symlink, in up and in destroy, and leaves the link", async () => {
        const real = path.join(host.root, "managed", "daemon.json");
        fs.mkdirSync(path.dirname(real));
        fs.writeFileSync(real, ORIGINAL);
        fs.symlinkSync(real, host.daemonJson);
        await backup();
        expect((await apply(merged(ORIGINAL))).code).toBe(0);
        expect(fs.lstatSync(host.daemonJson).isSymbolicLink()).toBe(true);
        expect(fs.readFileSync(real, "utf8")).toBe(merged(ORIGINAL));
        expect((await restore()).code).toBe(0);
        expect(fs.lstatSync(host.daemonJson).isSymbolicLink()).toBe(true);
        expect(fs.readFileSync(real, "utf8")).toBe(ORIGINAL);
    });

    it("as the backup's delete (FORGET=true) puts the original back even when the apply is not in the state (a run killed during up), then forgets", async () => {
        writeOriginal(ORIGINAL);
        await backup();
        await apply(merged(ORIGINAL));
        const r = await restore({ FORGET: "true" });
        expect(r.code).toBe(0);
        expect(fs.readFileSync(host.daemonJson, "utf8")).toBe(ORIGINAL);
        expect(fs.existsSync(host.stateDir)).toBe(false);
    });

    it("with FORGET=true keeps the backup when Docker does not come back", async () => {
        writeOriginal(ORIGINAL);
        await backup();
        await apply(merged(ORIGINAL));
        host.setState("fail-always", "");
        const r = await restore({ FORGET: "true" });
        expect(r.code).not.toBe(0);
        expect(fs.readFileSync(path.join(host.stateDir, "daemon.json.orig"), "utf8")).toBe(ORIGINAL);
    });
});

describe("daemon-config-restore", () => {
    it("puts the original back byte for byte with its mode, restarts, waits for no cluster store", async () => {
        writeOriginal(ORIGINAL, 0o640);
        await backup();
        await apply(merged(ORIGINAL));
        expect(host.state("cluster-store")).toBe(STORE);
        const r = await restore();
        expect(r).toMatchObject({ code: 0, stderr: "" });
        expect(r.stdout).toContain("the original");
        expect(fs.readFileSync(host.daemonJson)).toEqual(Buffer.from(ORIGINAL, "utf8"));
        expect(modeOf(host.daemonJson)).toBe(0o640);
        expect(host.state("cluster-store")).toBe("");
        expect(host.restarts).toBe(2);
        expect(fs.readdirSync(host.configDir)).toEqual(["daemon.json"]);
    });

    it("removes daemon.json when there was none, and is idempotent", async () => {
        await backup();
        await apply(merged(undefined));
        expect((await restore()).code).toBe(0);
        expect(fs.existsSync(host.daemonJson)).toBe(false);
        expect(host.restarts).toBe(2);
        const again = await restore();
        expect(again).toMatchObject({ code: 0, stderr: "" });
        expect(again.stdout).toContain("nothing to do");
        expect(host.restarts).toBe(2);
    });

    it("waits for the cluster store the original itself names", async () => {
        const seeded = '{"cluster-store": "consul://192.168.87.133:8500", "cluster-advertise": "ens33:2375"}\n';
        writeOriginal(seeded);
        host.setState("cluster-store", "consul://192.168.87.133:8500");
        await backup();
        await apply(merged(seeded));
        const r = await restore();
        expect(r).toMatchObject({ code: 0, stderr: "" });
        expect(host.state("cluster-store")).toBe("consul://192.168.87.133:8500");
        expect(fs.readFileSync(host.daemonJson, "utf8")).toBe(seeded);
    });

    it("says so and changes nothing when there is no backup", async () => {
        writeOriginal(ORIGINAL);
        const r = await restore();
        expect(r).toMatchObject({ code: 0, stderr: "" });
        expect(r.stdout).toContain("no backup of the original daemon.json");
        expect(fs.readFileSync(host.daemonJson, "utf8")).toBe(ORIGINAL);
        expect(host.restarts).toBe(0);
    });

    it("puts docker-overlay's file back when Docker will not start with the original", async () => {
        writeOriginal(ORIGINAL);
        await backup();
        const ours = merged(ORIGINAL);
        await apply(ours);
        // the original has become unusable meanwhile (say, an option this dockerd no longer knows)
        fs.writeFileSync(path.join(host.stateDir, "daemon.json.orig"), '{"bad-option": 1}\n');
        const r = await restore();
        expect(r.code).toBe(1);
        const line = oneErrorLine(r.stderr);
        expect(line).toContain("bad-option");
        expect(line).toContain("docker-overlay's daemon.json was put back and Docker is running again");
        expect(fs.readFileSync(host.daemonJson, "utf8")).toBe(ours);
        expect(host.running).toBe(true);
        expect(host.state("cluster-store")).toBe(STORE);
    });
});
