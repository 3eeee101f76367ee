// No single point of failure: a Consul cluster as the overlay's store, on a 5-host lab (servers on
// lab1..lab3, client agents on lab4 and lab5), the real engine and providers throughout.
//   - growing a running one-server stack to a cluster is refused in preview, nothing touched;
//   - up forms the cluster (a leader, 3 servers, 5 agents), every daemon on its own host's agent,
//     and traffic crosses hosts;
//   - the leader's Consul container killed, then the leader's whole host down (sshd and dockerd
//     stopped): a new leader is elected, a new container on another host attaches to the overlay
//     and reaches the others by name, and `pulumi up` converges (after the host is back; its
//     Docker started again, so every host's containers on the overlay announce themselves again,
//     components/overlayRejoin.ts). How long
//     no new container could attach after the loss is printed: a figure, not a pass/fail timing.
import * as fs from "node:fs";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultWorkDir, type Lab, type LabHost, labConfig, labExec, openStack, REPO } from "../../scripts/labStack";
import { main } from "../../program";
import { changes, collector, daemonJsons, docker, engineApi, freshLab, holdLabSession, httpGet, phase, printTimings } from "./harness";
import { poll } from "./poll";
import { execFileSync, spawn } from "node:child_process";

const CONSUL = { backend: "consul", image: "dolab/consul:1.14", pull: false };
const SERVICES = [
    // The gateway and service a on the client hosts, which no scenario takes down.
    { name: "gateway", host: "lab4", image: "dolab/busybox:1", command: ["sleep", "2147483647"], pull: false },
    { name: "service-a", host: "lab5", image: "dolab/busybox:1", command: ["httpd", "-f", "-p", "80", "-h", "/"], aliases: ["a"], port: 80, registerInConsul: true, pull: false },
    { name: "service-b", host: "lab2", image: "dolab/busybox:1", command: ["httpd", "-f", "-p", "80", "-h", "/"], aliases: ["b"], port: 80, registerInConsul: true, pull: false },
];
const SINGLE = { kv: { ...CONSUL, host: "lab1" }, services: SERVICES };
const CLUSTER = { kv: { ...CONSUL, servers: ["lab1", "lab2", "lab3"] }, services: SERVICES };
/** Loss reports, printed at the end. */
const figures: string[] = [];

const labSh = (...args: string[]) =>
    execFileSync("bash", [`${REPO}/lab/lab.sh`, ...args], { cwd: REPO, stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, DOCKER_OVERLAY_LAB_SESSION: "held" } });

/** Consul's HTTP API through one host's own agent. */
async function consul(h: LabHost, apiPath: string): Promise<unknown> {
    const res = await fetch(`http://${h.address}:8500${apiPath}`, { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${h.name} GET ${apiPath}: HTTP ${res.status}: ${text}`);
    return JSON.parse(text) as unknown;
}

describe("a Consul cluster as the overlay's store (3 servers, 5 hosts)", () => {
    let lab: Lab;
    let stack: Stack;
    let before: Record<string, string | null>;
    let destroyed = false;
    let release: () => void = () => {};
    const host = (name: string) => lab.hosts.find((h) => h.name === name)!;
    /** The same stack (same work dir and state) with this config. */
    const stackWith = (name: string, overrides: Record<string, unknown>) =>
        openStack({ stackName: name, workDir: defaultWorkDir(name), config: labConfig(lab, overrides), privateKey: fs.readFileSync(lab.privateKeyPath, "utf8"), program: () => main() });
    // After a loss: refresh with the providers as the program makes them now (`pulumi up --refresh --run-program`), so
    // that the Consul provider goes through a server that answers.
    const up = (s: Stack, refresh = false) => s.up({ onOutput: (o) => process.stdout.write(o), ...(refresh ? { refresh: true, runProgram: true } : {}) });

    /** A preview that must show no changes; its diff is in the failure message when it does. */
    async function expectNoChanges(after: string): Promise<void> {
        const out = collector();
        const p = await stack.preview({ diff: true, onOutput: out.onOutput });
        expect(changes(p.changeSummary), `preview after ${after}:\n${out.lines.join("")}`).toEqual({});
    }
    /** The leader's host, asked through a server that is up. */
    async function leader(askVia: LabHost[]): Promise<LabHost | undefined> {
        for (const h of askVia) {
            try {
                const l = (await consul(h, "/v1/status/leader")) as string;
                const ip = l.split(":")[0];
                if (ip) return lab.hosts.find((x) => x.address === ip);
            } catch {
                // ask the next one
            }
        }
        return undefined;
    }
    /** Consul's autopilot: healthy, and how many failures it survives now. */
    async function faultTolerance(via: LabHost): Promise<{ healthy: boolean; tolerance: number; voters: number }> {
        const h = (await consul(via, "/v1/operator/autopilot/health")) as { Healthy: boolean; FailureTolerance: number; Servers: { Voter: boolean }[] };
        return { healthy: h.Healthy, tolerance: h.FailureTolerance, voters: h.Servers.filter((x) => x.Voter).length };
    }
    /**
     * After up put a lost server back: seconds until Consul's autopilot counts it as a voter again
     * (its stabilization time), i.e. until the cluster survives another loss. Reported, and bounded.
     */
    async function untilTolerant(after: string, via: LabHost): Promise<void> {
        let last = { healthy: false, tolerance: 0, voters: 0 };
        const r = await poll(
            async () => (last = await faultTolerance(via).catch(() => last)),
            (t) => t.healthy && t.tolerance === 1 && t.voters === 3,
            { withinMs: 90_000, everyMs: 500 },
        );
        expect(r.value, `autopilot after ${after}`).toEqual({ healthy: true, tolerance: 1, voters: 3 });
        const line = `after ${after}, the cluster could lose a server again ${r.seconds.toFixed(1)} s after up returned (autopilot's stabilization)`;
        figures.push(line);
        console.log(`[consul-cluster] ${line}`);
    }
    async function aliveMembers(via: LabHost): Promise<string[]> {
        const members = (await consul(via, "/v1/agent/members")) as { Name: string; Status: number }[];
        return members.filter((m) => m.Status === 1).map((m) => m.Name).sort();
    }
    /** A new container on FROM attaches to the overlay and reaches service a by name (one try, at most 20 s). */
    function attachAndReach(from: LabHost): Promise<{ ok: boolean; out: string }> {
        return new Promise((resolve) => {
            const args = ["-H", `unix://${from.dockerSocket}`, "run", "--rm", "--network", "lab_overlay", lab.images.busybox, "sh", "-c", "ping -c 1 -W 2 service-a && ping -c 1 -W 2 a"];
            const p = spawn("docker", args, { stdio: ["ignore", "pipe", "pipe"] });
            let out = "";
            p.stdout.on("data", (d: Buffer) => (out += d.toString()));
            p.stderr.on("data", (d: Buffer) => (out += d.toString()));
            const timer = setTimeout(() => p.kill("SIGKILL"), 20_000);
            p.on("close", (code) => {
                clearTimeout(timer);
                resolve({ ok: code === 0, out: code === null ? `(no answer within 20 s) ${out}` : out.trim() });
            });
        });
    }
    /** After a loss at T0: seconds until a new leader (other than LOST) and until a new container on FROM attaches and reaches service a. */
    async function measureRecovery(what: string, lost: LabHost, t0: number, from: LabHost): Promise<void> {
        const servers = ["lab1", "lab2", "lab3"].map(host).filter((h) => h !== lost);
        const started = Date.now();
        const withinMs = t0 + 180_000 - started;
        // The two are watched side by side: a try to attach can block for a while.
        const [led, attached] = await Promise.all([
            poll(() => leader(servers), (l) => l !== undefined && l !== lost, { withinMs, everyMs: 250 }),
            poll(() => attachAndReach(from), (r) => r.ok, { withinMs, everyMs: 250 }),
        ]);
        const leaderAt = started + led.seconds * 1000;
        const attachAt = started + attached.seconds * 1000;
        expect(led.ok, `a new leader after ${what}`).toBe(true);
        expect(attached.ok, `a new container on ${from.name} attached and reached service a after ${what} (last try: ${attached.value.out})`).toBe(true);
        const line = `${what} (${lost.name}, the leader): new leader ${led.value!.name} after ${((leaderAt - t0) / 1000).toFixed(1)} s; the first new container on ${from.name} attached to the overlay and reached service a by name ${((attachAt - t0) / 1000).toFixed(1)} s after the loss (${attached.tries} tries)`;
        figures.push(line);
        console.log(`[consul-cluster] ${line}`);
    }

    beforeAll(async () => {
        release = await holdLabSession();
        lab = await phase("consul-cluster: lab set-up (5 hosts)", () => freshLab(5));
        before = daemonJsons(lab);
        for (const name of ["e2e-grow", "e2e-cluster"]) fs.rmSync(defaultWorkDir(name), { recursive: true, force: true });
    }, 900_000);

    afterAll(async () => {
        if (lab) {
            for (const h of lab.hosts) {
                try {
                    labExec(h.name, "/usr/local/sbin/dolab-dockerd", "start");
                    labSh("sshd", h.name, "start");
                } catch {
                    // best effort
                }
            }
        }
        if (stack && !destroyed) await stack.destroy({ onOutput: (s) => process.stdout.write(s) }).catch((e) => console.error(`cleanup destroy failed: ${e}`));
        console.log(`\n[consul-cluster] how long the overlay could not attach new containers after losing the leader:\n${figures.map((f) => `  - ${f}`).join("\n")}\n`);
        printTimings("consul-cluster");
        release();
    }, 900_000);

    it("growing a running one-server stack to three servers is refused in preview, naming each daemon and what to do; nothing changes", async () => {
        const single = await stackWith("e2e-grow", SINGLE);
        await phase("consul-cluster: up with kv.host", () => up(single));
        const converged = daemonJsons(lab);
        const grown = await stackWith("e2e-grow", CLUSTER);
        const out = collector();
        const error = await grown.preview({ onOutput: out.onOutput }).then(
            () => "",
            (e: unknown) => String((e as Error).message),
        );
        const text = out.lines.join("") + error;
        expect(error).not.toBe("");
        // Every daemon but lab1's, whose own agent is where the one server was.
        for (const h of lab.hosts.filter((x) => x.name !== "lab1"))
            expect(text).toContain(`host ${h.name}'s daemon is on the cluster store consul://10.210.0.11:8500 (its /etc/docker/daemon.json), and this stack would move it to consul://${h.address}:8500`);
        expect(text).toContain("preflight found 4 problems");
        expect(text).toContain("run `pulumi destroy` first (every daemon goes back as it was), then `pulumi up` with the new `kv`");
        expect(daemonJsons(lab)).toEqual(converged);
        await phase("consul-cluster: destroy the one-server stack", () => grown.destroy({ onOutput: (s) => process.stdout.write(s) }));
        expect(daemonJsons(lab)).toEqual(before);
    }, 900_000);

    it("up forms the cluster: a leader, 3 servers and 5 agents alive, every daemon on its own host's agent, traffic across hosts", async () => {
        stack = await stackWith("e2e-cluster", CLUSTER);
        const r = await phase("consul-cluster: up", () => up(stack));
        expect(r.summary.result).toBe("succeeded");
        const lab1 = host("lab1");
        expect(await leader([lab1])).toBeDefined();
        expect(((await consul(lab1, "/v1/status/peers")) as string[]).length).toBe(3);
        expect(await aliveMembers(lab1)).toEqual(["lab1", "lab2", "lab3", "lab4", "lab5"]);
        // up returned with the cluster able to lose a server: three voters, autopilot healthy.
        expect(await faultTolerance(lab1)).toEqual({ healthy: true, tolerance: 1, voters: 3 });
        for (const h of lab.hosts) expect(((await engineApi(h, "/info")) as { ClusterStore?: string }).ClusterStore, h.name).toBe(`consul://${h.address}:8500`);
        const report = r.outputs.connectivityReport!.value as { from: string; results: { byAddress: boolean; byName: boolean }[] }[];
        expect(report).toHaveLength(5);
        for (const x of report) for (const y of x.results) expect(y, x.from).toMatchObject({ byAddress: true, byName: true });
        const http = docker(host("lab4"), ["exec", "gateway", ...httpGet("http://a/etc/hostname")]);
        expect(http.stderr).toContain("200 OK");
    }, 900_000);

    it("the leader's Consul container killed: a new leader, a new container elsewhere attaches and reaches the others by name, and up (with refresh) converges", async () => {
        const lost = (await leader([host("lab1"), host("lab2"), host("lab3")]))!;
        expect(["lab1", "lab2", "lab3"]).toContain(lost.name);
        const t0 = Date.now();
        expect(docker(lost, ["kill", "docker-overlay-e2e-cluster-consul"]).status).toBe(0);
        await measureRecovery("its Consul container killed", lost, t0, host("lab4"));
        const healed = await phase("consul-cluster: up --refresh after the kill", () => up(stack, true));
        expect(healed.summary.result).toBe("succeeded");
        expect(docker(lost, ["inspect", "docker-overlay-e2e-cluster-consul", "--format", "{{.State.Running}}"]).stdout).toBe("true");
        // The server is back in the cluster; it votes again after autopilot's stabilization.
        const members = await poll(() => aliveMembers(host("lab4")).catch((): string[] => []), (alive) => alive.length >= 5, { withinMs: 60_000, everyMs: 1000 });
        expect(members.value).toEqual(["lab1", "lab2", "lab3", "lab4", "lab5"]);
        await untilTolerant("the container kill", host("lab4"));
        await expectNoChanges("the container kill");
    }, 900_000);

    it("the leader's whole host down (sshd and dockerd stopped): a new leader, new containers elsewhere attach; up refuses it naming the host, and converges once it is back", async () => {
        const lost = (await leader([host("lab1"), host("lab2"), host("lab3")]))!;
        const t0 = Date.now();
        labSh("sshd", lost.name, "stop");
        labExec(lost.name, "/usr/local/sbin/dolab-dockerd", "stop");
        await measureRecovery("its host down (sshd and dockerd stopped)", lost, t0, host("lab4"));
        const others = lab.hosts.filter((h) => h !== lost);
        const whileDown = daemonJsons(lab);
        const refused = await up(stack).then(
            () => "",
            (e: unknown) => String((e as Error).message),
        );
        expect(refused).toContain(`host ${lost.name} (root@${lost.address}:22) cannot be reached over SSH`);
        expect(daemonJsons(lab)).toEqual(whileDown);
        for (const h of others) expect(docker(h, ["info", "--format", "{{.ServerVersion}}"]).status, h.name).toBe(0);
        // The host comes back (its supervisor starts Docker, which starts the Consul server again).
        labExec(lost.name, "/usr/local/sbin/dolab-dockerd", "start");
        labSh("sshd", lost.name, "start");
        const back = await phase("consul-cluster: up --refresh with the host back", () => up(stack, true));
        expect(back.summary.result).toBe("succeeded");
        // Containers that were running before the loss, on the host that came back and on the
        // others, reach each other again: the connectivity check of that up (every pair, by
        // address and by name), and the gateway (lab4) to the returned host's probe. Without the
        // rejoin both fail and stay failed (docs/lab.md, "A host's Docker restarted").
        const report = back.outputs.connectivityReport!.value as { from: string; results: { byAddress: boolean; byName: boolean }[] }[];
        expect(report).toHaveLength(5);
        for (const x of report) for (const y of x.results) expect(y, x.from).toMatchObject({ byAddress: true, byName: true });
        expect(docker(host("lab4"), ["exec", "gateway", "ping", "-c", "1", "-W", "2", `docker-overlay-e2e-cluster-probe-${lost.name}`]).status, `gateway (lab4) -> ${lost.name}'s probe`).toBe(0);
        const members = await poll(() => aliveMembers(host("lab4")).catch((): string[] => []), (alive) => alive.length >= 5, { withinMs: 60_000, everyMs: 1000 });
        expect(members.value).toEqual(["lab1", "lab2", "lab3", "lab4", "lab5"]);
        await untilTolerant("the host's return", host("lab4"));
        // Service b's container on a host that was down restarts with its daemon and is announced
        // to the others by gossip: how long after up returned the gateway reached it is a figure.
        const http = await poll(() => docker(host("lab4"), ["exec", "gateway", ...httpGet("http://b/etc/hostname")]), (r) => r.stderr.includes("200 OK"), { withinMs: 60_000, everyMs: 1000 });
        expect(http.value.stderr, "gateway (lab4) -> b (lab2) again, within 60 s of up").toContain("200 OK");
        const backLine = `after ${lost.name}'s return, the gateway (lab4) reached service b (lab2) by name ${http.seconds.toFixed(1)} s after up returned`;
        figures.push(backLine);
        console.log(`[consul-cluster] ${backLine}`);
        await expectNoChanges("the host's return");
    }, 900_000);

    it("destroy puts every daemon.json back byte for byte and leaves no container", async () => {
        await phase("consul-cluster: destroy", () => stack.destroy({ onOutput: (s) => process.stdout.write(s) }));
        destroyed = true;
        expect(daemonJsons(lab)).toEqual(before);
        for (const h of lab.hosts) {
            expect(docker(h, ["ps", "-a", "--format", "{{.Names}}"]).stdout, h.name).toBe("");
            expect(((await engineApi(h, "/info")) as { ClusterStore?: string }).ClusterStore ?? "", h.name).toBe("");
        }
    }, 900_000);
});
