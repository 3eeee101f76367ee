// hostProbe: the host facts script run for real with bash on this machine (with the fake
// docker CLI for the daemon's part, and throwaway directories for daemon.json, the unit and the
// kernel's module lists), its parser, and the SSH side against an in-process ssh2 server on
// 127.0.0.1 that runs the command with sh: host key pinning, refusal of a wrong key, timeouts,
// refused connections and refused logins. No traffic leaves loopback.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Server, utils } from "ssh2";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { fingerprint, preflightCommand, probeHost, probeHosts } from "../../components/hostProbe";
import { parseHostFacts } from "../../components/hostFacts";
import { FAKE_DOCKER, FakeHost, runRendered } from "../host-scripts/harness";
import { renderScript, scriptBundle, scriptCommand } from "../../components/hostScripts";

describe("host-facts.sh on this machine", () => {
    let host: FakeHost;
    let tmp: string;
    beforeEach(() => {
        host = new FakeHost();
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "docker-overlay-preflight-"));
        host.setState("name", "lab1");
        host.setState("engine-id", "ABCD:EFGH");
    });
    afterEach(() => {
        host.cleanup();
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    /** Every file under a directory with its bytes, to prove the script wrote nothing. */
    function snapshot(dir: string): Record<string, string> {
        const out: Record<string, string> = {};
        for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
            const p = path.join(e.parentPath, e.name);
            out[path.relative(dir, p)] = e.isFile() ? fs.readFileSync(p, "base64") : "dir";
        }
        return out;
    }

    async function run(vars: Record<string, string | number | string[]> = {}, env: NodeJS.ProcessEnv = {}) {
        const r = await runRendered(
            "host-facts",
            { DOCKER: FAKE_DOCKER, DOCKER_CONFIG_DIR: host.configDir, HOST_LABEL: "lab1", SYSTEMD_UNIT_PATHS: [path.join(tmp, "none")], PEERS: ["127.0.0.1"], ...vars },
            { ...host.fakeEnv(), ...env },
        );
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.stdout.endsWith("}\n")).toBe(true);
        expect(r.stdout.split("\n")).toHaveLength(2);
        return parseHostFacts(r.stdout);
    }

    it("reports this machine's hostname, interfaces, routes and vxlan as the kernel does", async () => {
        const f = await run();
        expect(f.hostname).toBe(os.hostname());
        // Every interface the kernel lists, each with its MTU and up flag from /sys.
        const names = fs.readdirSync("/sys/class/net").filter((n) => fs.existsSync(`/sys/class/net/${n}/mtu`)).sort();
        expect(f.interfaces.map((i) => i.name).sort()).toEqual(names);
        for (const i of f.interfaces) {
            expect(i.mtu).toBe(Number(fs.readFileSync(`/sys/class/net/${i.name}/mtu`, "utf8")));
            expect(i.up).toBe((Number(fs.readFileSync(`/sys/class/net/${i.name}/flags`, "utf8")) & 1) === 1);
        }
        // The addresses Node sees, interface by interface (Node leaves out link-local ones' scope only).
        for (const [name, list] of Object.entries(os.networkInterfaces())) {
            const mine = f.interfaces.find((i) => i.name === name)!;
            for (const a of list ?? []) expect(mine.addresses).toContain(a.cidr);
        }
        expect(f.interfaces.find((i) => i.name === "lo")!.addresses).toContain("127.0.0.1/8");
        expect(f.routes).toEqual([{ to: "127.0.0.1", interface: "lo", source: "127.0.0.1", error: "" }]);
        expect(f.vxlan).toBe(fs.existsSync("/sys/module/vxlan") ? "loaded" : f.vxlan);
    });

    it("routes to this machine's own non-loopback address through the interface that carries it", async () => {
        const own = Object.entries(os.networkInterfaces()).flatMap(([name, l]) => (l ?? []).filter((a) => a.family === "IPv4" && !a.internal).map((a) => ({ name, address: a.address })))[0];
        if (!own) return expect.fail("this machine has no non-loopback IPv4 address to route to");
        const f = await run({ PEERS: [own.address, "203.0.113.7/40"] });
        expect(f.routes[0]).toEqual({ to: own.address, interface: own.name, source: own.address, error: "" });
        expect(f.routes[1]!.to).toBe("203.0.113.7/40");
        expect(f.routes[1]!.interface).toBe("");
        // Not an address, so it was taken for a name, which nothing resolves.
        expect(f.routes[1]!.error).toMatch(/^this host cannot resolve 203\.0\.113\.7\/40 \(getent ahosts\)/);
    });

    it("resolves a peer given as a DNS name as the host does (getent), reporting it under its name", async () => {
        const f = await run({ PEERS: ["localhost", "no-such-host.invalid"] });
        expect(f.routes[0]).toEqual({ to: "localhost", interface: "lo", source: "127.0.0.1", error: "" });
        expect(f.routes[1]).toEqual({
            to: "no-such-host.invalid",
            interface: "",
            source: "",
            error: "this host cannot resolve no-such-host.invalid (getent ahosts): add it to its DNS or /etc/hosts, or give the address as an IP",
        });
    });

    it("reports the SSH user and what it may write, creating nothing: root here, and nobody (setpriv) who may write none of it", async () => {
        const state = path.join(tmp, "state");
        const lock = path.join(tmp, "lock", "docker-overlay.lock");
        const before = snapshot(tmp);
        const f = await run({ STATE_DIR: state, LOCK_FILE: lock });
        expect(f.user).toEqual({ uid: 0, name: "root", stateWritable: true, dockerConfigWritable: true, lockWritable: true });
        expect(f.lockHeld).toBe(false);
        expect(snapshot(tmp)).toEqual(before);
        // The same script as an unprivileged user (uid 65534), on the same paths.
        const vars = { DOCKER: FAKE_DOCKER, DOCKER_CONFIG_DIR: host.configDir, HOST_LABEL: "lab1", SYSTEMD_UNIT_PATHS: [path.join(tmp, "none")], PEERS: ["127.0.0.1"], STATE_DIR: state, LOCK_FILE: lock };
        const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", scriptCommand("create", "host-facts")], {
            input: scriptBundle({ create: renderScript("host-facts", vars) }),
            env: { ...host.fakeEnv(), HOME: "/" },
            encoding: "utf8",
            cwd: "/",
        });
        expect(r.status, r.stderr).toBe(0);
        expect(parseHostFacts(r.stdout).user).toEqual({ uid: 65534, name: expect.any(String), stateWritable: false, dockerConfigWritable: false, lockWritable: false });
    });

    it("reports what the host scripts recorded there (drift): daemon.json changed since the last up, the epochs, the swarm marker", async () => {
        const state = path.join(tmp, "state");
        expect((await run({ STATE_DIR: state })).applied).toEqual({ daemonJsonChanged: false, applyEpoch: 0, swarmMarker: "", joinEpoch: 0 });
        fs.mkdirSync(state);
        fs.writeFileSync(path.join(state, "daemon.json.ours"), '{"cluster-store": "etcd://x:2379"}\n');
        fs.writeFileSync(host.daemonJson, '{"cluster-store": "etcd://x:2379"}\n');
        fs.writeFileSync(path.join(state, "apply-epoch"), "3\n");
        fs.writeFileSync(path.join(state, "swarm-joined"), "node1\n");
        fs.writeFileSync(path.join(state, "join-epoch"), "2\n");
        expect((await run({ STATE_DIR: state })).applied).toEqual({ daemonJsonChanged: false, applyEpoch: 3, swarmMarker: "swarm-joined", joinEpoch: 2 });
        fs.writeFileSync(host.daemonJson, '{"cluster-store": "etcd://x:2379", "debug": true}\n');
        expect((await run({ STATE_DIR: state })).applied.daemonJsonChanged).toBe(true);
        fs.rmSync(host.daemonJson);
        expect((await run({ STATE_DIR: state })).applied.daemonJsonChanged).toBe(true);
    });

    it("sees another docker-overlay script holding the host lock", async () => {
        const lock = path.join(tmp, "docker-overlay.lock");
        fs.writeFileSync(lock, "");
        // flock and its sleep in a group of their own: both go (the sleep holds the lock too).
        const holder = spawn("flock", [lock, "sleep", "10"], { stdio: "ignore", detached: true });
        const exited = new Promise((r) => holder.once("exit", r));
        try {
            await new Promise((r) => setTimeout(r, 300));
            expect((await run({ LOCK_FILE: lock })).lockHeld).toBe(true);
        } finally {
            process.kill(-holder.pid!, "SIGKILL");
        }
        await exited;
        expect((await run({ LOCK_FILE: lock })).lockHeld).toBe(false);
    });

    it("reads the daemon through docker info: version, engine ID, registered name, swarm", async () => {
        host.setState("swarm-state", "active");
        host.setState("swarm-role", "manager");
        host.setState("swarm-node-id", "node1");
        const f = await run();
        expect(f.docker).toEqual({
            ok: true,
            version: "20.10.24",
            id: "ABCD:EFGH",
            name: "lab1",
            swarm: { state: "active", nodeId: "node1", control: true, clusterId: "", managers: [] },
            liveRestore: false,
            clusterStore: "",
            clusterAdvertise: "",
        });
        // Read-only: docker info, then (a CLI of 23+ leaves ClusterStore out) the daemon's own
        // /info through dial-stdio, for the cluster store.
        expect(host.state("calls.log")).toBe("info --format {{json .}}\nsystem dial-stdio\n");
    });

    it("reads the cluster store the daemon reports, whichever CLI asks (dial-stdio for 23+)", async () => {
        host.setState("cluster-store", "consul://10.210.0.11:8500");
        const viaDial = await run();
        expect(viaDial.docker).toMatchObject({ ok: true, clusterStore: "consul://10.210.0.11:8500" });
        expect(host.state("calls.log")).toContain("system dial-stdio");
        host.setState("calls.log", undefined);
        const viaInfo = await run({}, { FAKE_CLIENT: "20.10" });
        expect(viaInfo.docker).toMatchObject({ ok: true, clusterStore: "consul://10.210.0.11:8500" });
        expect(host.state("calls.log")).toBe("info --format {{json .}}\n");
    });

    it("reports a stopped daemon with docker's message, and still everything else", async () => {
        host.setState("running", undefined);
        const f = await run();
        expect(f.docker).toEqual({ ok: false, error: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" });
        expect(f.routes).toHaveLength(1);
    });

    it("returns daemon.json byte for byte, even when it is not JSON", async () => {
        expect((await run()).daemonJson).toEqual({ present: false });
        const content = '{\n  "debug": true,\n  "labels": ["é", "\\u0001"],\n}\n\t';
        fs.writeFileSync(host.daemonJson, content);
        expect((await run()).daemonJson).toEqual({ present: true, content });
    });

    it("finds every cluster flag on an active line of the unit, drop-ins and /etc/default/docker", async () => {
        const unit = path.join(tmp, "docker.service");
        const dropins = path.join(tmp, "docker.service.d");
        const defaults = path.join(tmp, "default-docker");
        fs.writeFileSync(unit, "[Service]\n# ExecStart=/usr/bin/dockerd --cluster-store=old\nExecStart=/usr/bin/dockerd -H fd:// --cluster-store=consul://10.0.0.1:8500 --cluster-advertise eth0:2376\n");
        fs.mkdirSync(dropins);
        fs.writeFileSync(path.join(dropins, "10-kv.conf"), "[Service]\nExecStart=\n; ExecStart=/usr/bin/dockerd --cluster-advertise=x\nExecStart=/usr/bin/dockerd --cluster-store-opt kv.path=/x\n");
        fs.writeFileSync(path.join(dropins, "ignored.txt"), "--cluster-store=x\n");
        fs.writeFileSync(defaults, 'DOCKER_OPTS="--cluster-advertise=eth1:2376"');
        const f = await run({ SYSTEMD_UNIT_PATHS: [unit, dropins, defaults, path.join(tmp, "missing")] });
        expect(f.unitOptions).toEqual([
            { file: unit, line: 3, option: "cluster-store" },
            { file: unit, line: 3, option: "cluster-advertise" },
            { file: path.join(dropins, "10-kv.conf"), line: 4, option: "cluster-store-opt" },
            { file: defaults, line: 1, option: "cluster-advertise" },
        ]);
    });

    it("tells loaded, built-in, loadable and missing vxlan apart, reading only", async () => {
        const sys = path.join(tmp, "sys-module");
        const mods = path.join(tmp, "modules");
        fs.mkdirSync(sys);
        fs.mkdirSync(mods);
        const kernel = { SYS_MODULE_DIR: sys, KERNEL_MODULES_DIR: mods, KERNEL_CONFIG: path.join(tmp, "config.gz") };
        expect((await run(kernel)).vxlan).toBe("missing");
        fs.writeFileSync(path.join(mods, "modules.dep"), "kernel/net/ipv4/udp_tunnel.ko.zst:\nkernel/drivers/net/vxlan/vxlan.ko.zst: kernel/net/ipv4/udp_tunnel.ko.zst\n");
        expect((await run(kernel)).vxlan).toBe("loadable");
        fs.writeFileSync(path.join(mods, "modules.builtin"), "kernel/drivers/net/vxlan/vxlan.ko\n");
        expect((await run(kernel)).vxlan).toBe("builtin");
        fs.rmSync(path.join(mods, "modules.builtin"));
        fs.rmSync(path.join(mods, "modules.dep"));
        execFileSync("sh", ["-c", `printf 'CONFIG_NET=y\\nCONFIG_VXLAN=y\\n' | gzip > '${kernel.KERNEL_CONFIG}'`]);
        expect((await run(kernel)).vxlan).toBe("builtin");
        fs.mkdirSync(path.join(sys, "vxlan"));
        const before = snapshot(tmp);
        const hostBefore = snapshot(host.root);
        expect((await run(kernel)).vxlan).toBe("loaded");
        expect(snapshot(tmp)).toEqual(before);
        // Only the fake CLI's own log of its calls changed.
        const hostAfter = snapshot(host.root);
        delete hostAfter["fake-daemon/calls.log"];
        delete hostBefore["fake-daemon/calls.log"];
        expect(hostAfter).toEqual(hostBefore);
    });
});

// --- SSH against an in-process server on 127.0.0.1 ------------------------------------------

let keyDir: string;
let clientKey: string;
let hostKeyLine: string;
let otherHostKeyLine: string;
let server: Server;
let port: number;
/** Commands the server was asked to run. */
const executed: string[] = [];
let fake: FakeHost;
let binDir: string;
let hang = false;

function keygen(name: string): string {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", path.join(keyDir, name)]);
    return path.join(keyDir, name);
}
/** The key line without its comment, as `hosts[].hostKey` holds it. */
const pubLine = (file: string) => fs.readFileSync(`${file}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
/** ssh-keygen's own fingerprint of a public key file. */
const sshKeygenFingerprint = (file: string) => execFileSync("ssh-keygen", ["-l", "-f", `${file}.pub`], { encoding: "utf8" }).split(" ")[1]!;

beforeAll(async () => {
    keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "docker-overlay-ssh-"));
    const client = keygen("client");
    const hostKey = keygen("host");
    const other = keygen("other");
    clientKey = fs.readFileSync(client, "utf8");
    hostKeyLine = pubLine(hostKey);
    otherHostKeyLine = pubLine(other);
    const allowed = utils.parseKey(fs.readFileSync(`${client}.pub`));
    if (allowed instanceof Error) throw allowed;
    const allowedKey = Array.isArray(allowed) ? allowed[0] : allowed;

    fake = new FakeHost();
    fake.setState("name", "sshhost");
    binDir = path.join(fake.root, "bin");
    fs.mkdirSync(binDir);
    fs.symlinkSync(FAKE_DOCKER, path.join(binDir, "docker"));

    server = new Server({ hostKeys: [fs.readFileSync(hostKey)] }, (conn) => {
        conn.on("authentication", (ctx) => {
            if (
                ctx.method === "publickey" &&
                ctx.key.data.equals(allowedKey.getPublicSSH()) &&
                (!ctx.signature || allowedKey.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) === true)
            )
                return ctx.accept();
            ctx.reject(["publickey"]);
        });
        conn.on("ready", () => {
            conn.on("session", (accept) => {
                accept().once("exec", (acceptExec, _reject, info) => {
                    executed.push(info.command);
                    const stream = acceptExec();
                    const env = { ...fake.fakeEnv(), PATH: `${binDir}:${fake.fakeEnv().PATH}` };
                    const child = spawn("sh", ["-c", hang ? "sleep 30" : info.command], { env });
                    stream.pipe(child.stdin);
                    child.stdin.on("error", () => undefined);
                    child.stdout.pipe(stream, { end: false });
                    child.stderr.pipe(stream.stderr, { end: false });
                    child.on("close", (code) => {
                        stream.exit(code ?? 1);
                        stream.end();
                    });
                    stream.on("close", () => child.kill());
                });
            });
        });
        conn.on("error", () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    port = (server.address() as net.AddressInfo).port;
});

afterAll(() => {
    server?.close();
    fake?.cleanup();
    fs.rmSync(keyDir, { recursive: true, force: true });
});

beforeEach(() => {
    executed.length = 0;
    hang = false;
});

/** A host to probe, its key pinned unless `over` says otherwise. */
const target = (over: Partial<Parameters<typeof probeHost>[0]> = {}) => ({ name: "h1", address: "127.0.0.1", sshPort: port, sshUser: "root", hostKey: hostKeyLine, peers: ["127.0.0.1"], ...over });

describe("probeHost over SSH", () => {
    it("runs the facts script with the host key pinned and returns the parsed facts", async () => {
        const o = await probeHost(target({ hostKey: hostKeyLine }), { privateKey: clientKey, timeoutSeconds: 10 });
        expect(o.kind).toBe("facts");
        if (o.kind !== "facts") return;
        expect(o.host).toBe("h1");
        expect(o.facts.docker).toMatchObject({ ok: true, name: "sshhost", version: "20.10.24" });
        expect(o.facts.routes).toEqual([{ to: "127.0.0.1", interface: "lo", source: "127.0.0.1", error: "" }]);
        expect(executed).toEqual([preflightCommand(target(), 10).command]);
    });

    it("refuses a host with no pinned key, runs nothing there, and reports the key it presented, as a line to pin", async () => {
        const o = await probeHost(target({ hostKey: undefined }), { privateKey: clientKey, timeoutSeconds: 10 });
        expect(o).toEqual({ host: "h1", kind: "hostKeyUnknown", presented: hostKeyLine, fingerprint: sshKeygenFingerprint(path.join(keyDir, "host")) });
        expect(executed).toEqual([]);
    });

    it("accepts any key only when told to (`ssh.insecureAcceptAnyHostKey`)", async () => {
        expect((await probeHost(target({ hostKey: undefined, acceptAnyHostKey: true }), { privateKey: clientKey, timeoutSeconds: 10 })).kind).toBe("facts");
    });

    it("refuses a host whose key is not the pinned one, runs nothing there, and names both fingerprints as ssh-keygen does", async () => {
        const o = await probeHost(target({ hostKey: otherHostKeyLine }), { privateKey: clientKey, timeoutSeconds: 10 });
        expect(o).toEqual({ host: "h1", kind: "hostKeyMismatch", presented: sshKeygenFingerprint(path.join(keyDir, "host")), pinned: sshKeygenFingerprint(path.join(keyDir, "other")) });
        expect(executed).toEqual([]);
        expect(fingerprint(Buffer.from(hostKeyLine.split(" ")[1]!, "base64"))).toBe(sshKeygenFingerprint(path.join(keyDir, "host")));
    });

    it("reports a refused login, without key material", async () => {
        const stranger = fs.readFileSync(path.join(keyDir, "other"), "utf8");
        const o = await probeHost(target(), { privateKey: stranger, timeoutSeconds: 10 });
        expect(o).toEqual({ host: "h1", kind: "unreachable", error: "All configured authentication methods failed" });
    });

    it("reports a closed port at once", async () => {
        const closed = net.createServer().listen(0, "127.0.0.1");
        await new Promise((r) => closed.once("listening", r));
        const p = (closed.address() as net.AddressInfo).port;
        await new Promise((r) => closed.close(r));
        const t0 = Date.now();
        expect(await probeHost(target({ sshPort: p }), { privateKey: clientKey, timeoutSeconds: 10 })).toEqual({ host: "h1", kind: "unreachable", error: `connect ECONNREFUSED 127.0.0.1:${p}` });
        expect(Date.now() - t0).toBeLessThan(2000);
    });

    it("gives up on a port that accepts but never speaks SSH after the timeout", async () => {
        const silent = net.createServer(() => undefined).listen(0, "127.0.0.1");
        await new Promise((r) => silent.once("listening", r));
        const t0 = Date.now();
        const o = await probeHost(target({ sshPort: (silent.address() as net.AddressInfo).port }), { privateKey: clientKey, timeoutSeconds: 2 });
        const took = Date.now() - t0;
        silent.close();
        expect(o).toEqual({ host: "h1", kind: "unreachable", error: "Timed out while waiting for handshake" });
        expect(took).toBeGreaterThanOrEqual(1900);
        expect(took).toBeLessThan(5000);
    });

    it("gives up on a script that does not finish", async () => {
        hang = true;
        const o = await probeHost(target(), { privateKey: clientKey, timeoutSeconds: 2 });
        expect(o).toEqual({ host: "h1", kind: "failed", error: "the facts script did not finish within 2 seconds" });
    });

    it("probes every host at once", async () => {
        const t0 = Date.now();
        hang = true;
        const all = await probeHosts([target({ name: "a" }), target({ name: "b" }), target({ name: "c" })], { privateKey: clientKey, timeoutSeconds: 2 });
        expect(all.map((o) => [o.host, o.kind])).toEqual([["a", "failed"], ["b", "failed"], ["c", "failed"]]);
        expect(Date.now() - t0).toBeLessThan(4000);
    });

    it("tries no host with a key it cannot use", async () => {
        const all = await probeHosts([target({ name: "a" }), target({ name: "b" })], { privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAsecretsecretsecret\n-----END OPENSSH PRIVATE KEY-----\n", timeoutSeconds: 2 });
        expect(all).toEqual([
            { host: "a", kind: "badKey", error: "Malformed OpenSSH private key" },
            { host: "b", kind: "badKey", error: "Malformed OpenSSH private key" },
        ]);
        expect(executed).toEqual([]);
    });
});
