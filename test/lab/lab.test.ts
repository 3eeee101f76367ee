/**
 * The local lab (lab/lab.sh) for real: root, real namespaces, real dockerd 20.10 and sshd.
 * Every test talks only to the lab's own hosts (10.210.0.0/24 on the bridge dolab0) and loopback.
 *
 * Run as root: npx vitest run test/lab   (about 3-4 minutes)
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Lab, LabHost } from "../../scripts/labStack";

const ROOT = path.resolve(__dirname, "../..");
const LAB_SH = path.join(ROOT, "lab", "lab.sh");
const STATE = "/var/lib/docker-overlay-lab";
const LAB_JSON = path.join(STATE, "lab.json");
const TAG = "docker-overlay-lab";

interface Run {
    code: number;
    stdout: string;
    stderr: string;
}

function run(cmd: string, args: string[], timeoutMs = 120_000): Run {
    const r = spawnSync(cmd, args, { encoding: "utf8", timeout: timeoutMs });
    if (r.error) throw r.error;
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function lab(...args: string[]): Run & { seconds: number } {
    const t0 = Date.now();
    const r = run("bash", [LAB_SH, ...args], 300_000);
    return { ...r, seconds: (Date.now() - t0) / 1000 };
}

function labUp(n: number, ...extra: string[]): Lab {
    const r = lab("up", String(n), ...extra);
    if (r.code !== 0) throw new Error(`lab.sh up ${n} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    console.log(`lab.sh up ${n} ${extra.join(" ")}: ${r.seconds.toFixed(1)} s`);
    return readLab();
}

function readLab(): Lab {
    return JSON.parse(fs.readFileSync(LAB_JSON, "utf8")) as Lab;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lab-test-"));

/** A known_hosts built only from the host keys pinned in lab.json. */
function knownHosts(l: Lab, keyFor: (h: LabHost) => string = (h) => h.hostKey): string {
    const file = path.join(tmp, `known_hosts-${Math.random().toString(36).slice(2)}`);
    fs.writeFileSync(file, l.hosts.map((h) => `${h.address} ${keyFor(h)}\n`).join(""));
    return file;
}

let current: Lab;
let currentKnownHosts: string;
function useLab(l: Lab): void {
    current = l;
    currentKnownHosts = knownHosts(l);
}

function host(name: string): LabHost {
    const h = current.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no host ${name} in lab.json`);
    return h;
}

function sshWith(h: LabHost, kh: string, command: string, timeoutMs = 120_000): Run {
    return run(
        "ssh",
        [
            "-i", current.privateKeyPath,
            "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes",
            "-o", `UserKnownHostsFile=${kh}`,
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "ConnectTimeout=5",
            "-o", "LogLevel=ERROR",
            "-p", String(h.sshPort),
            `${h.sshUser}@${h.address}`,
            command,
        ],
        timeoutMs,
    );
}

/** Run a command on a lab host over ssh; throw with its output unless it exits 0. */
function on(name: string, command: string, timeoutMs?: number): string {
    const r = sshWith(host(name), currentKnownHosts, command, timeoutMs);
    if (r.code !== 0) throw new Error(`${name}: \`${command}\` exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    return r.stdout.trim();
}
function onRun(name: string, command: string, timeoutMs?: number): Run {
    return sshWith(host(name), currentKnownHosts, command, timeoutMs);
}

function sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
}

function tcpOpen(address: string, port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const s = net.connect({ host: address, port, timeout: 1000 });
        s.once("connect", () => {
            s.destroy();
            resolve(true);
        });
        s.once("error", () => resolve(false));
        s.once("timeout", () => {
            s.destroy();
            resolve(false);
        });
    });
}

/** Seconds until address:port accepts TCP connections, or null after limitSeconds. */
async function secondsUntilOpen(address: string, port: number, limitSeconds: number): Promise<number | null> {
    const t0 = Date.now();
    while ((Date.now() - t0) / 1000 < limitSeconds) {
        if (await tcpOpen(address, port)) return (Date.now() - t0) / 1000;
        await sleep(200);
    }
    return null;
}

function pingOk(from: string, container: string, target: string): boolean {
    return onRun(from, `docker exec ${container} ping -c 2 -W 2 ${target}`).code === 0;
}

function containerIp(name: string, container: string, network: string): string {
    return on(name, `docker inspect -f '{{(index .NetworkSettings.Networks "${network}").IPAddress}}' ${container}`);
}

/** The seed's recipe with etcd: daemon.json of every host points at etcd on lab1. */
function writeClusterStore(names: string[], extra: Record<string, unknown> = {}): void {
    const cfg = JSON.stringify({ "cluster-store": "etcd://10.210.0.11:2379", "cluster-advertise": "eth0:2376", ...extra });
    for (const n of names) on(n, `printf '%s\\n' '${cfg}' > /etc/docker/daemon.json`);
}

function startEtcd(): void {
    on(
        "lab1",
        `docker run -d --name etcd --network host --restart always ${current.images.etcd} etcd --enable-v2 --name lab1 ` +
            "--data-dir /var/lib/etcd/data --listen-client-urls http://0.0.0.0:2379 " +
            "--advertise-client-urls http://10.210.0.11:2379 --listen-peer-urls http://127.0.0.1:2380",
    );
}

async function waitEtcd(): Promise<void> {
    for (let i = 0; i < 100; i++) {
        try {
            const r = await fetch("http://10.210.0.11:2379/v2/keys/", { signal: AbortSignal.timeout(1000) });
            if (r.ok) return;
        } catch {
            /* not yet */
        }
        await sleep(200);
    }
    throw new Error("etcd on lab1 did not answer on 10.210.0.11:2379 within 20 s");
}

function comm(pid: number): string {
    try {
        return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    } catch {
        return "";
    }
}

/**
 * Every process of the lab, as PIDs of the machine's PID namespace: those in a lab network
 * namespace or a lab host's PID namespace, and all their descendants (the containers).
 */
function labProcesses(): number[] {
    const nets = new Set(
        fs.readdirSync("/run/netns").filter((n) => n.startsWith("dolab-")).map((n) => `net:[${fs.statSync(`/run/netns/${n}`).ino}]`),
    );
    const pidNs = new Set(
        fs.readdirSync(`${STATE}/ns`).filter((n) => n.endsWith(".holder"))
            .map((n) => fs.readlinkSync(`/proc/${fs.readFileSync(`${STATE}/ns/${n}`, "utf8").trim()}/ns/pid`)),
    );
    expect(nets.size).toBe(current.hosts.length);
    expect(pidNs.size).toBe(current.hosts.length);
    const parent = new Map<number, number>();
    const keep = new Set<number>();
    for (const e of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(e)) continue;
        const pid = Number(e);
        try {
            const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
            parent.set(pid, Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
            if (nets.has(fs.readlinkSync(`/proc/${pid}/ns/net`)) || pidNs.has(fs.readlinkSync(`/proc/${pid}/ns/pid`))) keep.add(pid);
        } catch {
            /* gone meanwhile */
        }
    }
    for (let changed = true; changed; ) {
        changed = false;
        for (const [pid, ppid] of parent) {
            if (!keep.has(pid) && keep.has(ppid)) {
                keep.add(pid);
                changed = true;
            }
        }
    }
    return [...keep];
}

function restart(name: string): number {
    const t0 = Date.now();
    on(name, current.restartCommand.join(" "));
    return (Date.now() - t0) / 1000;
}

/**
 * One lab per machine: a test file that builds and tears down labs holds this lock for its whole
 * run, so two such files (this one, test/e2e, or a second run of either) never pull the lab from
 * under each other. lab.sh's own lock only serialises single up/down calls.
 */
const SESSION_LOCK = "/run/lock/docker-overlay-lab.session";
let sessionLock: ChildProcess | undefined;

function holdSessionLock(timeoutMs: number): Promise<ChildProcess> {
    return new Promise((resolve, reject) => {
        fs.mkdirSync(path.dirname(SESSION_LOCK), { recursive: true });
        // flock holds the lock while `cat` runs; closing its stdin (or our death) releases it
        const p = spawn("flock", ["-x", "-w", String(Math.floor(timeoutMs / 1000)), SESSION_LOCK, "-c", "echo locked; exec cat"], {
            stdio: ["pipe", "pipe", "inherit"],
        });
        let said = false;
        const t = setTimeout(() => console.log(`waiting for ${SESSION_LOCK}: another test file is using the lab`), 2000);
        p.stdout.on("data", (d: Buffer) => {
            if (!said && d.toString().includes("locked")) {
                said = true;
                clearTimeout(t);
                resolve(p);
            }
        });
        p.on("exit", (code) => {
            clearTimeout(t);
            if (!said) reject(new Error(`could not take ${SESSION_LOCK} (flock exited ${code})`));
        });
    });
}

beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error("test/lab needs root (it builds the lab with lab/lab.sh)");
    sessionLock = await holdSessionLock(20 * 60_000);
    // lab.sh waits while anyone holds the session lock, except when its caller holds it.
    process.env.DOCKER_OVERLAY_LAB_SESSION = "held";
}, 20 * 60_000 + 10_000);
afterAll(() => {
    sessionLock?.stdin?.end();
    fs.rmSync(tmp, { recursive: true, force: true });
});

describe("lab.sh basics", () => {
    it("tells a non-root user plainly that it needs root and exits 1", () => {
        const r = run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "bash", LAB_SH, "up", "2"]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/needs root/);
        expect(r.stdout).toBe("");
    });

    it("up 2 builds a lab quickly and describes it in lab.json", () => {
        const r = lab("up", "2", "--recreate");
        expect(r.code, r.stderr).toBe(0);
        console.log(`fresh lab.sh up 2 (including tearing down the previous lab): ${r.seconds.toFixed(1)} s`);
        expect(r.seconds).toBeLessThan(60);
        expect(r.stdout).toMatch(/lab of 2 hosts is up/);
        useLab(readLab());
        expect(current.hosts.map((h) => [h.name, h.hostname, h.address, h.sshPort, h.sshUser])).toEqual([
            ["lab1", "lab1", "10.210.0.11", 22, "root"],
            ["lab2", "lab2", "10.210.0.12", 22, "root"],
        ]);
        for (const h of current.hosts) {
            expect(h.hostKey).toMatch(/^ssh-ed25519 AAAA[0-9A-Za-z+/=]+$/);
            expect(h.dockerSocket).toBe(`${STATE}/hosts/${h.name}/run/docker.sock`);
            expect(fs.statSync(h.dockerSocket).isSocket()).toBe(true);
        }
        expect(current.hosts[0]!.hostKey).not.toBe(current.hosts[1]!.hostKey);
        expect(current.restartCommand).toEqual(["/usr/local/sbin/dolab-dockerd", "restart"]);
        expect(current.images).toEqual({ busybox: "dolab/busybox:1", etcd: "dolab/etcd:3.4", consul: "dolab/consul:1.14", zookeeper: "dolab/zookeeper:3.8" });
        // Every host runs the toolchain's dockerd (moby's build, with Consul's store), not Debian's.
        expect(current.dockerd).toBe(`${STATE}/bin/dockerd`);
        expect(current.engine).toMatch(/^[0-9a-f]{16}$/);
        for (const h of current.hosts) {
            expect(on(h.name, "readlink /proc/$(cat /var/run/docker.pid)/exe")).toBe(current.dockerd);
        }
        expect(on("lab1", `${current.dockerd} --version`)).toBe("Docker version 20.10.24, build 5d6db84");
        expect(current.bridge).toBe("dolab0");
        expect(current.subnet).toBe("10.210.0.0/24");
        expect(fs.readFileSync(current.publicKeyPath, "utf8")).toMatch(/^ssh-ed25519 /);
        expect(fs.statSync(current.privateKeyPath).mode & 0o077).toBe(0);
    });

    it("a second up of the same size says it is up and changes nothing", () => {
        const pids = current.hosts.map((h) => on(h.name, "dolab-dockerd pid"));
        const r = lab("up", "2");
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/already up/);
        expect(readLab()).toEqual(current);
        expect(current.hosts.map((h) => on(h.name, "dolab-dockerd pid"))).toEqual(pids);
        const s = lab("status");
        expect(s.code).toBe(0);
        expect(s.stdout).toMatch(/lab1 +10\.210\.0\.11 +ok +ok \(20\.10/);
    });

    it("ssh works with the lab key against known_hosts built from the pinned keys, and refuses a wrong key", () => {
        for (const h of current.hosts) {
            expect(on(h.name, "echo hello")).toBe("hello");
        }
        // pin lab2's key for lab1: StrictHostKeyChecking must refuse the connection
        const wrong = knownHosts(current, (h) => current.hosts.find((x) => x.name !== h.name)!.hostKey);
        const r = sshWith(host("lab1"), wrong, "true");
        expect(r.code).toBe(255);
        expect(r.stderr).toMatch(/host key|HOST IDENTIFICATION/i);
        // and no password login
        const p = run("ssh", ["-o", "BatchMode=yes", "-o", "PubkeyAuthentication=no", "-o", "StrictHostKeyChecking=yes",
            "-o", `UserKnownHostsFile=${currentKnownHosts}`, "root@10.210.0.11", "true"]);
        expect(p.code).toBe(255);
        expect(p.stderr).toMatch(/Permission denied \(publickey\)/);
    });

    it("every host has its own hostname, network address, dockerd identity and socket", () => {
        const facts = current.hosts.map((h) => ({
            hostname: on(h.name, "hostname"),
            etcHostname: on(h.name, "cat /etc/hostname"),
            addr: on(h.name, "ip -4 -o addr show dev eth0 | awk '{print $4}'"),
            info: on(h.name, "docker info --format '{{.Name}} {{.ID}} {{.ServerVersion}}'").split(" "),
            // the root-namespace path of the host's socket reaches the same daemon
            viaSocket: run("docker", ["-H", `unix://${h.dockerSocket}`, "info", "--format", "{{.ID}}"]).stdout.trim(),
        }));
        expect(facts.map((f) => f.hostname)).toEqual(["lab1", "lab2"]);
        expect(facts.map((f) => f.etcHostname)).toEqual(["lab1", "lab2"]);
        expect(facts.map((f) => f.addr)).toEqual(["10.210.0.11/24", "10.210.0.12/24"]);
        expect(facts.map((f) => f.info[0])).toEqual(["lab1", "lab2"]);
        expect(facts[0]!.info[1]).not.toBe(facts[1]!.info[1]);
        expect(facts.map((f) => f.viaSocket)).toEqual(facts.map((f) => f.info[1]));
        for (const f of facts) expect(f.info[2]).toMatch(/^20\.10\./);
        // each host has its own PID namespace: its ps shows one dockerd (its own) under PID 1 tini
        for (const h of current.hosts) {
            expect(on(h.name, "cat /proc/1/comm")).toBe("tini");
            expect(on(h.name, "ps -e -o comm= | grep -cx dockerd")).toBe("1");
            expect(on(h.name, "ps -e -o pid=,comm= | awk '$2 == \"dockerd\" {print $1}'")).toBe(on(h.name, "dolab-dockerd pid"));
        }
        // the hostname of the machine itself is untouched
        expect(os.hostname()).not.toMatch(/^lab\d+$/);
    });

    it("/etc/docker/daemon.json of one host is not seen by another host or by the machine", () => {
        const rootBefore = fs.existsSync("/etc/docker/daemon.json") ? fs.readFileSync("/etc/docker/daemon.json", "utf8") : null;
        on("lab1", `echo '{"labels": ["only=lab1"]}' > /etc/docker/daemon.json`);
        expect(on("lab1", "cat /etc/docker/daemon.json")).toContain("only=lab1");
        expect(onRun("lab2", "cat /etc/docker/daemon.json").code).not.toBe(0);
        const rootAfter = fs.existsSync("/etc/docker/daemon.json") ? fs.readFileSync("/etc/docker/daemon.json", "utf8") : null;
        expect(rootAfter).toBe(rootBefore);
        // the file lives in the host's own directory under the state dir
        expect(fs.readFileSync(`${STATE}/hosts/lab1/etc-docker/daemon.json`, "utf8")).toContain("only=lab1");
        on("lab1", "rm /etc/docker/daemon.json");
    });

    it("/var/lib/docker-overlay (where the stack keeps each host's original daemon.json) is each host's own", () => {
        on("lab1", "echo lab1 > /var/lib/docker-overlay/probe");
        expect(onRun("lab2", "cat /var/lib/docker-overlay/probe").code).not.toBe(0);
        expect(fs.existsSync("/var/lib/docker-overlay/probe")).toBe(false);
        expect(fs.readFileSync(`${STATE}/hosts/lab1/lib-docker-overlay/probe`, "utf8")).toBe("lab1\n");
        on("lab1", "rm /var/lib/docker-overlay/probe");
    });

    it("root's home is each host's own: an SSH session runs none of this machine's ~/.bashrc", () => {
        // This machine's ~/.bashrc ran `pyenv init` in every session on every host; once a killed
        // shell left pyenv's lock behind and each command waited 60 s for it (2026-12-02).
        const marker = path.join(os.homedir(), `.dolab-probe-${process.pid}`);
        fs.writeFileSync(marker, "machine\n");
        try {
            expect(onRun("lab1", `cat /root/${path.basename(marker)}`).code).not.toBe(0);
            expect(on("lab1", "echo $HOME; ls -A /root | wc -l")).toBe("/root\n0");
            on("lab1", "echo lab1 > /root/probe");
            expect(onRun("lab2", "cat /root/probe").code).not.toBe(0);
            expect(fs.readFileSync(`${STATE}/hosts/lab1/root/probe`, "utf8")).toBe("lab1\n");
            on("lab1", "rm /root/probe");
        } finally {
            fs.rmSync(marker, { force: true });
        }
    });

    it("the restart command restarts dockerd, and fails with the daemon's error for an invalid daemon.json", () => {
        const before = on("lab2", "dolab-dockerd pid");
        on("lab2", `echo '{"labels": ["restarted=yes"]}' > /etc/docker/daemon.json`);
        const seconds = restart("lab2");
        console.log(`dolab-dockerd restart with no containers: ${seconds.toFixed(1)} s`);
        const after = on("lab2", "dolab-dockerd pid");
        expect(after).not.toBe(before);
        expect(on("lab2", "docker info --format '{{json .Labels}}'")).toContain("restarted=yes");

        on("lab2", `echo '{"labels": ["broken"' > /etc/docker/daemon.json`);
        const bad = onRun("lab2", "dolab-dockerd restart");
        expect(bad.code).not.toBe(0);
        expect(bad.stderr).toMatch(/unable to configure the Docker daemon with file \/etc\/docker\/daemon\.json/);
        expect(onRun("lab2", "docker info").code).not.toBe(0);

        on("lab2", "rm /etc/docker/daemon.json");
        restart("lab2");
        expect(on("lab2", "docker info --format '{{.Name}}'")).toBe("lab2");
    });

    it("up on a lab with a dead daemon rebuilds it", () => {
        on("lab2", "dolab-dockerd stop");
        expect(lab("status").code).toBe(1);
        const r = lab("up", "2");
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/removing the previous lab first \(it is incomplete or a host does not answer\)/);
        expect(r.stdout).toMatch(/lab of 2 hosts is up/);
        const fresh = readLab();
        expect(fresh.hosts[1]!.hostKey).not.toBe(current.hosts[1]!.hostKey); // a new lab, new keys
        useLab(fresh);
        expect(on("lab2", "docker info --format '{{.Name}}'")).toBe("lab2");
    });

    it("images are loaded on every host and run", () => {
        for (const h of current.hosts) {
            expect(on(h.name, `docker run --rm ${current.images.busybox} sh -c 'echo ok; for a in ping nc wget httpd ip nslookup; do command -v $a >/dev/null || echo missing $a; done'`)).toBe("ok");
            expect(on(h.name, `docker run --rm --network host ${current.images.etcd} etcd --version`)).toMatch(/etcd Version: 3\.4/);
        }
    });
});

describe("swarm-mode overlay across the lab, by hand", () => {
    it("swarm init/join, an attachable overlay, a container per host, ping by IP and by name", () => {
        on("lab1", "docker swarm init --advertise-addr 10.210.0.11");
        const token = on("lab1", "docker swarm join-token -q worker");
        on("lab2", `docker swarm join --token ${token} 10.210.0.11:2377`);
        expect(on("lab1", "docker node ls --format '{{.Hostname}} {{.Status}}' | sort")).toBe("lab1 Ready\nlab2 Ready");
        on("lab1", "docker network create -d overlay --attachable sw1");
        on("lab1", `docker run -d --name sw-a --network sw1 ${current.images.busybox} sleep 3600`);
        on("lab2", `docker run -d --name sw-b --network sw1 ${current.images.busybox} sleep 3600`);
        const ipA = containerIp("lab1", "sw-a", "sw1");
        const ipB = containerIp("lab2", "sw-b", "sw1");
        expect(ipA).not.toBe(ipB);
        expect(pingOk("lab1", "sw-a", ipB)).toBe(true);
        expect(pingOk("lab2", "sw-b", ipA)).toBe(true);
        expect(pingOk("lab1", "sw-a", "sw-b")).toBe(true);
        expect(pingOk("lab2", "sw-b", "sw-a")).toBe(true);
    });
});

describe("legacy KV overlay (etcd) across the lab, by hand", () => {
    it("KV host's daemon first, wait for its serf (7946), then the others: global network, ping by IP and name", async () => {
        useLab(labUp(2, "--recreate"));
        startEtcd();
        await waitEtcd();
        writeClusterStore(["lab1", "lab2"]);
        const r1 = restart("lab1");
        const serf = await secondsUntilOpen("10.210.0.11", 7946, 40);
        console.log(`KV host lab1 restarted in ${r1.toFixed(1)} s; its serf listened ${serf} s later (default discovery heartbeat 20 s)`);
        expect(serf).not.toBeNull();
        const r2 = restart("lab2");
        console.log(`lab2 restarted in ${r2.toFixed(1)} s`);
        for (const n of ["lab1", "lab2"]) {
            const info = JSON.parse(on(n, "curl -s --unix-socket /var/run/docker.sock http://docker/info")) as Record<string, string>;
            expect(info.ClusterStore).toBe("etcd://10.210.0.11:2379");
            expect(info.ClusterAdvertise).toBe(n === "lab1" ? "10.210.0.11:2376" : "10.210.0.12:2376");
        }
        on("lab1", "docker network create -d overlay kv1");
        expect(on("lab2", "docker network ls --filter name=^kv1$ --format '{{.Name}} {{.Driver}} {{.Scope}}'")).toBe("kv1 overlay global");
        on("lab1", `docker run -d --name kv-a --network kv1 ${current.images.busybox} sleep 3600`);
        on("lab2", `docker run -d --name kv-b --network kv1 ${current.images.busybox} sleep 3600`);
        const ipA = containerIp("lab1", "kv-a", "kv1");
        const ipB = containerIp("lab2", "kv-b", "kv1");
        expect(pingOk("lab1", "kv-a", ipB)).toBe(true);
        expect(pingOk("lab2", "kv-b", ipA)).toBe(true);
        expect(pingOk("lab1", "kv-a", "kv-b")).toBe(true);
        expect(pingOk("lab2", "kv-b", "kv-a")).toBe(true);
        // the KV store lists both daemons
        const nodes = (await (await fetch("http://10.210.0.11:2379/v2/keys/docker/nodes")).json()) as { node: { nodes: { key: string }[] } };
        expect(nodes.node.nodes.map((n) => n.key).sort()).toEqual(["/docker/nodes/10.210.0.11:2376", "/docker/nodes/10.210.0.12:2376"]);
    }, 180_000);

    it("finding: restarting the KV host first is not enough; containers attached before the serf mesh formed stay unreachable until restarted", async () => {
        useLab(labUp(2, "--recreate"));
        startEtcd();
        await waitEtcd();
        writeClusterStore(["lab1", "lab2"]);
        restart("lab1");
        restart("lab2"); // at once: lab1's serf is not up yet, lab2's join fails and is never retried
        const t0 = Date.now();
        on("lab1", "docker network create -d overlay kv1");
        on("lab1", `docker run -d --name kv-a --network kv1 ${current.images.busybox} sleep 3600`);
        on("lab2", `docker run -d --name kv-b --network kv1 ${current.images.busybox} sleep 3600`);
        expect(on("lab2", "docker network ls --filter name=^kv1$ --format '{{.Scope}}'")).toBe("global");
        const ipB = containerIp("lab2", "kv-b", "kv1");
        expect(pingOk("lab1", "kv-a", ipB)).toBe(false);
        // the mesh forms when lab1's discovery retries (heartbeat, 20 s) and lab1 joins lab2 ...
        expect(await secondsUntilOpen("10.210.0.11", 7946, 40)).not.toBeNull();
        const wait = 25_000 - (Date.now() - t0);
        if (wait > 0) await sleep(wait);
        // ... but the endpoints announced before that are not replayed
        expect(pingOk("lab1", "kv-a", ipB)).toBe(false);
        // restarting the containers announces their endpoints again
        on("lab1", "docker restart -t 0 kv-a");
        on("lab2", "docker restart -t 0 kv-b");
        expect(pingOk("lab1", "kv-a", "kv-b")).toBe(true);
        expect(pingOk("lab2", "kv-b", "kv-a")).toBe(true);
    }, 180_000);

    it("finding: cluster-store-opts discovery.heartbeat=3 brings the KV host's serf up within seconds", async () => {
        // same lab: all daemons already point at etcd; add the shorter heartbeat and restart the KV host
        writeClusterStore(["lab1", "lab2"], { "cluster-store-opts": { "discovery.heartbeat": "3", "discovery.ttl": "10" } });
        // (no running sleep containers: each would add its 10 s stop timeout to the restart)
        on("lab1", "docker rm -f kv-a");
        on("lab2", "docker rm -f kv-b");
        const r1 = restart("lab1");
        const serf = await secondsUntilOpen("10.210.0.11", 7946, 40);
        console.log(`with discovery.heartbeat=3: lab1 restarted in ${r1.toFixed(1)} s, serf listened ${serf} s later`);
        expect(serf).not.toBeNull();
        expect(serf!).toBeLessThan(8);
        restart("lab2");
        on("lab1", `docker run -d --name hb-a --network kv1 ${current.images.busybox} sleep 3600`);
        on("lab2", `docker run -d --name hb-b --network kv1 ${current.images.busybox} sleep 3600`);
        expect(pingOk("lab1", "hb-a", "hb-b")).toBe(true);
        expect(pingOk("lab2", "hb-b", "hb-a")).toBe(true);
    }, 180_000);
});

describe("lab.sh up on another size, and down", () => {
    it("up 3 after a lab of 2 recreates it with 3 hosts", () => {
        useLab(labUp(3));
        expect(current.hosts.map((h) => h.name)).toEqual(["lab1", "lab2", "lab3"]);
        expect(on("lab3", "hostname")).toBe("lab3");
        expect(on("lab3", "docker info --format '{{.Name}}'")).toBe("lab3");
        // a fresh lab: nothing of the previous one survived
        expect(on("lab1", "docker ps -aq")).toBe("");
    });

    it("down removes processes, mounts, namespaces, links, iptables rules and state; twice is fine", () => {
        for (const h of current.hosts) on(h.name, `docker run -d --name leftover ${current.images.busybox} sleep 3600`);
        const pids = labProcesses();
        const comms = pids.map((p) => comm(p));
        for (const c of ["tini", "sshd", "dockerd", "containerd", "containerd-shim", "sleep"]) {
            expect(comms.filter((x) => x === c).length, `${c} processes of the lab`).toBeGreaterThanOrEqual(3);
        }
        const r = lab("down");
        expect(r.code, r.stderr).toBe(0);
        console.log(`lab.sh down (3 hosts): ${r.seconds.toFixed(1)} s`);
        const alive = pids.filter((p) => {
            try {
                return !/\) Z /.test(fs.readFileSync(`/proc/${p}/stat`, "utf8"));
            } catch {
                return false;
            }
        });
        expect(alive).toEqual([]);
        expect(run("ip", ["netns", "list"]).stdout).not.toMatch(/dolab/);
        expect(run("ip", ["-o", "link", "show"]).stdout).not.toMatch(/dolab/);
        expect(run("iptables", ["-S", "FORWARD"]).stdout).not.toContain(TAG);
        expect(fs.readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(STATE);
        expect(run("pgrep", ["-f", STATE]).stdout).toBe("");
        expect(fs.existsSync(STATE)).toBe(false);
        expect(fs.existsSync("/usr/local/sbin/dolab-dockerd")).toBe(false);
        const again = lab("down");
        expect(again.code, again.stderr).toBe(0);
        const s = lab("status");
        expect(s.code).toBe(1);
        expect(s.stdout).toMatch(/lab: down/);
    });
});
