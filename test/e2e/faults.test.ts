// Fault injection on a fresh lab of three hosts in kv mode (Consul on lab1, the seed's store), the
// real engine and providers throughout. Each scenario breaks something real at a chosen moment
// and checks the exact outcome the README promises:
//   - the KV store unreachable during `up` (Consul, and etcd with a stack of its own): a clear
//     error naming the host and the address, and no daemon changed or restarted;
//   - dockerd killed (with its containers) on a host after `up`: `refresh` then `up` heals;
//   - a host's sshd stopped in the middle of `up`: the other hosts converge (--continue-on-error),
//     the error names the host, and the next `up` converges with no manual step;
//   - a daemon that refuses the new daemon.json: rolled back, Docker running, `up` names the host
//     and the daemon's own error; then `destroy` after that failed `up` restores every host.
// Every scenario runs with a canary, a shell command substitution, in every free-text config field
// a host command sees; no file may ever appear. A table of the outcomes is printed at the end.
import * as fs from "node:fs";
import { execFileSync } from "node:child_process";
import type { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_CLUSTER_STORE_OPTS } from "../../components/config";
import { type Lab, type LabHost, labExec, REPO } from "../../scripts/labStack";
import { UNRELATED } from "./flow";
import { changes, daemonJsons, docker, freshLab, holdLabSession, httpGet, labStack, phase, printTimings, ssh } from "./harness";
import { poll } from "./poll";

/** Runs on a host's shell would create this file (the machine's /tmp is every lab host's /tmp). */
const CANARY_FILE = "/tmp/docker-overlay-canary";
/** The canary: every way a shell could be made to run a command, in one value. */
export const CANARY = `$(touch ${CANARY_FILE}) \`touch ${CANARY_FILE}\` ';touch ${CANARY_FILE};' ";touch ${CANARY_FILE};" | touch ${CANARY_FILE} && touch ${CANARY_FILE} \ntouch ${CANARY_FILE}`;
const LAB_SH = `${REPO}/lab/lab.sh`;
const FLAGS_FILE = "/etc/docker/dolab-dockerd.flags";

/**
 * The lab stack with the canary in every config field that is free text and reaches a host
 * command: the restart and log commands (through `env`, which takes it as one argument), a
 * cluster-store option (written into daemon.json), a service's environment and its command. Every
 * other string field is refused by the schema when it holds the canary (test/unit/canary.test.ts).
 */
const canaryConfig = {
    docker: {
        restartCommand: ["env", `DOCKER_OVERLAY_CANARY=${CANARY}`, "/usr/local/sbin/dolab-dockerd", "restart"],
        logCommand: ["env", `DOCKER_OVERLAY_CANARY=${CANARY}`, "tail", "-n", "30", "/var/log/dockerd.log"],
        waitSeconds: 60,
        clusterStoreOpts: { ...DEFAULT_CLUSTER_STORE_OPTS, "kv.canary": CANARY },
    },
    services: [
        {
            name: "gateway",
            host: "lab1",
            image: "dolab/busybox:1",
            pull: false,
            command: ["env", `DOCKER_OVERLAY_CANARY=${CANARY}`, "sleep", "2147483647"],
            env: { DOCKER_OVERLAY_CANARY: CANARY },
        },
        { name: "service-a", host: "lab2", image: "dolab/busybox:1", pull: false, aliases: ["a"], command: ["httpd", "-f", "-p", "80", "-h", "/"] },
        { name: "service-b", host: "lab3", image: "dolab/busybox:1", pull: false, aliases: ["b"], command: ["httpd", "-f", "-p", "80", "-h", "/"] },
    ],
};

interface Row {
    scenario: string;
    outcome: string;
    healthy: string;
    bytesLost: number;
}
const table: Row[] = [];

function labSh(...args: string[]): string {
    return execFileSync("bash", [LAB_SH, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, DOCKER_OVERLAY_LAB_SESSION: "held" } });
}

/**
 * Bytes of a host's original daemon.json that are not in its current one: 0 when every original
 * key is still there with its value (ours may be added), else the size of the original entries
 * missing or changed (all of it when the file is gone or not JSON).
 */
export function bytesLost(original: string | null, current: string | null): number {
    if (original === null) return 0;
    if (current === null) return Buffer.byteLength(original);
    let now: Record<string, unknown>;
    try {
        now = JSON.parse(current) as Record<string, unknown>;
    } catch {
        return Buffer.byteLength(original);
    }
    const was = JSON.parse(original) as Record<string, unknown>;
    return Object.entries(was)
        .filter(([k, v]) => JSON.stringify(now[k]) !== JSON.stringify(v))
        .reduce((n, [k, v]) => n + Buffer.byteLength(JSON.stringify({ [k]: v })) - 2, 0);
}

/** The stores the "unreachable" scenario runs against: the lab's Consul, and etcd. */
const STORES = {
    consul: { port: 8500, url: "consul://10.210.0.11:8500", overrides: {} },
    etcd: { port: 2379, url: "etcd://10.210.0.11:2379", overrides: { kv: { backend: "etcd", host: "lab1", image: "dolab/etcd:3.4", pull: false } } },
} as const;

describe("fault injection (kv mode on the lab, canary in every free-text field)", () => {
    let lab: Lab;
    let stack: Stack;
    let etcdStack: Stack | undefined;
    let originals: Record<string, string | null>;
    let release: () => void = () => {};
    const decode = (b64: string | null) => (b64 === null ? null : Buffer.from(b64, "base64").toString("utf8"));
    const host = (name: string): LabHost => lab.hosts.find((h) => h.name === name)!;

    /** Docker answers on the host (from this machine, through its socket). */
    /** A scenario that failed part-way leaves the stack up; the next one starts from the originals. */
    let dirty = false;
    async function startClean(): Promise<void> {
        if (!dirty) return;
        await stack.destroy({ onOutput: (s) => process.stdout.write(s) });
        expect(daemonJsons(lab)).toEqual(originals);
        dirty = false;
    }
    const dockerUp = (h: LabHost) => docker(h, ["info", "--format", "{{.ServerVersion}}"]).status === 0;
    const dockerdPid = (h: LabHost) => labExec(h.name, "cat", "/var/run/docker.pid").trim();
    /** Healthy: Docker answers and the host's daemon.json holds every original key. */
    function health(): { healthy: string; bytesLost: number } {
        const now = daemonJsons(lab);
        let ok = 0;
        let lost = 0;
        for (const h of lab.hosts) {
            const l = bytesLost(decode(originals[h.name]!), decode(now[h.name]!));
            lost += l;
            if (dockerUp(h) && l === 0) ok++;
        }
        return { healthy: `${ok}/${lab.hosts.length}`, bytesLost: lost };
    }
    function record(scenario: string, outcome: string): void {
        const h = health();
        table.push({ scenario, outcome, ...h });
        console.log(`[faults] ${scenario}: ${outcome} (healthy ${h.healthy}, bytes lost ${h.bytesLost})`);
    }
    /** No canary file on the machine (every lab host's /tmp) nor in any running container. */
    function expectNoCanary(): void {
        expect(fs.existsSync(CANARY_FILE), `${CANARY_FILE} exists: a config value was run by a shell`).toBe(false);
        for (const h of lab.hosts) {
            for (const name of docker(h, ["ps", "--format", "{{.Names}}"]).stdout.split("\n").filter(Boolean)) {
                const r = docker(h, ["exec", name, "ls", "-a", "/tmp"]);
                if (r.status === 0) expect(r.stdout, `canary file in container ${name} on ${h.name}`).not.toContain("docker-overlay-canary");
            }
        }
    }
    /** Runs `up` (of `on`, the main stack by default); returns its error's text instead of throwing. */
    async function upResult(opts: { continueOnError?: boolean; onEvent?: (e: EngineEvent) => void } = {}, on: Stack = stack): Promise<{ ok: boolean; text: string }> {
        const lines: string[] = [];
        if (on === stack) dirty = true;
        try {
            await on.up({ onOutput: (s) => { lines.push(s); process.stdout.write(s); }, ...opts });
            return { ok: true, text: lines.join("") };
        } catch (e) {
            return { ok: false, text: `${lines.join("")}\n${(e as Error).message}` };
        }
    }
    async function destroyAndCheck(on: Stack = stack): Promise<void> {
        await on.destroy({ onOutput: (s) => process.stdout.write(s) });
        if (on === stack) dirty = false;
        expect(daemonJsons(lab), "every daemon.json byte for byte as before").toEqual(originals);
        for (const h of lab.hosts) {
            expect(dockerUp(h), `Docker running on ${h.name}`).toBe(true);
            expect(docker(h, ["ps", "-a", "--format", "{{.Names}}"]).stdout, `containers left on ${h.name}`).toBe("");
        }
    }
    /** The gateway on lab1 reaches `target` on the overlay: ping and HTTP 200. */
    function reaches(target: string): boolean {
        const gw = host("lab1");
        if (docker(gw, ["exec", "gateway", "ping", "-c", "2", "-W", "3", target]).status !== 0) return false;
        return docker(gw, ["exec", "gateway", ...httpGet(`http://${target}/etc/hostname`)]).stderr.includes("200 OK");
    }

    beforeAll(async () => {
        release = await holdLabSession();
        fs.rmSync(CANARY_FILE, { force: true });
        lab = await phase("faults: lab set-up", () => freshLab(3));
        ssh(lab, host("lab2"), "mkdir -p /etc/docker && cat > /etc/docker/daemon.json && /usr/local/sbin/dolab-dockerd restart >/dev/null", UNRELATED);
        originals = daemonJsons(lab);
        stack = await labStack(lab, "e2e-faults", canaryConfig);
    }, 900_000);

    afterAll(async () => {
        // Undo every fault, whatever failed, then leave no stack behind.
        if (lab) {
            for (const undo of [
                () => labSh("sshd", "lab3", "start"),
                ...Object.values(STORES).map(({ port }) => () => labExec("lab1", "sh", "-c", `while iptables -D INPUT -p tcp --dport ${port} -j DROP 2>/dev/null; do :; done`)),
                () => labExec("lab2", "sh", "-c", `rm -f ${FLAGS_FILE}; /usr/local/sbin/dolab-dockerd start`),
            ])
                try { undo(); } catch (e) { console.error(`cleanup: ${e}`); }
        }
        for (const s of [stack, etcdStack]) if (s) await s.destroy({ onOutput: (o) => process.stdout.write(o) }).catch((e) => console.error(`cleanup destroy failed: ${e}`));
        console.log(
            "\n[faults] fault-injection results\n\n| scenario | outcome | hosts left healthy | bytes of original configuration lost |\n|---|---|---|---|\n" +
                table.map((r) => `| ${r.scenario} | ${r.outcome} | ${r.healthy} | ${r.bytesLost} |`).join("\n") + "\n",
        );
        printTimings("faults");
        release();
    }, 900_000);

    /**
     * The store's port dropped on the KV host (lab1): its container runs, nothing answers. `up` must
     * stop at overlay-kv-ready naming the store, its host and the address the daemons would use,
     * with no daemon.json changed and no dockerd restarted; with the store back, the next `up`
     * converges with no other step.
     */
    async function storeUnreachable(backend: keyof typeof STORES, on: Stack): Promise<void> {
        const { port, url } = STORES[backend];
        const pids = Object.fromEntries(lab.hosts.map((h) => [h.name, dockerdPid(h)]));
        labExec("lab1", "iptables", "-I", "INPUT", "-p", "tcp", "--dport", String(port), "-j", "DROP");
        const up = await phase(`faults: up, ${backend} unreachable`, () => upResult({}, on));
        expect(up.ok).toBe(false);
        expect(up.text).toContain(`${backend} at 127.0.0.1:${port} on lab1 (the daemons' cluster store ${url}) is not ready after 90s: nothing answered on that port`);
        expect(up.text).toContain("overlay-kv-ready");
        expect(daemonJsons(lab), "no daemon.json changed").toEqual(originals);
        for (const h of lab.hosts) expect(dockerdPid(h), `dockerd on ${h.name} not restarted`).toBe(pids[h.name]);
        record(`KV store (${backend}) unreachable during \`up\``, "`up` failed at overlay-kv-ready naming the store, its host and address; no daemon.json changed, no dockerd restarted");
        expectNoCanary();

        labExec("lab1", "iptables", "-D", "INPUT", "-p", "tcp", "--dport", String(port), "-j", "DROP");
        const again = await phase(`faults: up, ${backend} back`, () => upResult({}, on));
        expect(again.ok, again.text.slice(-3000)).toBe(true);
        expect(reaches("a") && reaches("b")).toBe(true);
        table[table.length - 1]!.outcome += "; with the store back the next `up` converged";
        expectNoCanary();
    }

    it("Consul unreachable during up: a clear error naming the store, and no daemon changed or restarted", async () => {
        await storeUnreachable("consul", stack);
    }, 900_000);

    it("the canary reached the hosts as data: in daemon.json and in the gateway's environment, with no file created", () => {
        const daemon = JSON.parse(decode(daemonJsons(lab)["lab2"]!)!) as { "cluster-store-opts": Record<string, string> };
        expect(daemon["cluster-store-opts"]["kv.canary"]).toBe(CANARY);
        const env = docker(host("lab1"), ["inspect", "gateway", "--format", "{{json .Config.Env}}"]);
        expect(JSON.parse(env.stdout)).toContain(`DOCKER_OVERLAY_CANARY=${CANARY}`);
        // The gateway runs its command through `env` with the canary as one argument.
        expect(JSON.parse(docker(host("lab1"), ["inspect", "gateway", "--format", "{{json .Config.Cmd}}"]).stdout)).toEqual(canaryConfig.services[0]!.command);
        expectNoCanary();
    });

    it("dockerd killed with its containers on lab2 after up: refresh then up heals the cluster", async () => {
        const lab2 = host("lab2");
        // What an OOM kill of the whole service or a power cut does: every Docker process and
        // every container process of the host gone at once, without shutdown. (By PID: the
        // host's own PID 1 must live, or the kernel ends the whole lab host.)
        const containerPids = docker(lab2, ["ps", "-q"]).stdout.split("\n").filter(Boolean).map((id) => docker(lab2, ["inspect", "--format", "{{.State.Pid}}", id]).stdout);
        expect(containerPids.length).toBeGreaterThan(0);
        const dockerPids = labExec("lab2", "sh", "-c", "cat /var/run/docker.pid; echo; pgrep -x containerd; pgrep -x containerd-shim-runc-v2; pgrep -x containerd-shim; true").split(/\s+/).filter(Boolean);
        expect(dockerPids.length).toBeGreaterThanOrEqual(2);
        // Some die on their own first (dockerd's containerd has a parent-death signal): no error for those.
        labExec("lab2", "sh", "-c", `kill -KILL ${[...dockerPids, ...containerPids].join(" ")} 2>/dev/null; true`);
        await new Promise((r) => setTimeout(r, 1000));
        expect(dockerUp(lab2)).toBe(false);
        expect(reaches("a")).toBe(false);
        // The host's supervisor starts it again, as systemd's Restart=always does.
        labExec("lab2", "/usr/local/sbin/dolab-dockerd", "start");
        const refresh = await phase("faults: refresh after the kill", () => stack.refresh({ onOutput: (s) => process.stdout.write(s) }));
        const up = await phase("faults: up after the refresh", () => upResult());
        expect(up.ok, up.text.slice(-3000)).toBe(true);
        expect(reaches("a"), "gateway -> a after healing").toBe(true);
        expect(reaches("b"), "gateway -> b after healing").toBe(true);
        const r = changes(refresh.summary.resourceChanges);
        record(
            "dockerd killed with its containers on a host after `up`",
            `\`refresh\` (${Object.entries(r).map(([k, n]) => `${n} ${k}`).join(", ") || "no changes"}) then \`up\` succeeded; gateway reaches a and b again`,
        );
        expectNoCanary();
        await phase("faults: destroy", () => destroyAndCheck());
    }, 900_000);

    it("lab3's sshd stopped in the middle of up: lab1 and lab2 converge, the error names lab3, and the next up converges", async () => {
        await startClean();
        let stopped = false;
        // When the hub's daemon starts its restart, lab3 has its backup but not its
        // new daemon.json: stop its sshd then.
        const onEvent = (e: EngineEvent) => {
            if (!stopped && e.resourcePreEvent?.metadata.urn.endsWith("overlay-lab1-daemon-config-apply")) {
                stopped = true;
                labSh("sshd", "lab3", "stop");
            }
        };
        const up = await phase("faults: up, lab3 unreachable mid-way", () => upResult({ continueOnError: true, onEvent }));
        expect(stopped).toBe(true);
        expect(up.ok).toBe(false);
        expect(up.text).toMatch(/overlay-lab3-[\w-]+/);
        expect(up.text).toContain("10.210.0.13");
        // lab1 and lab2 converged: their daemons on the store, their services on the overlay.
        const now = daemonJsons(lab);
        for (const h of ["lab1", "lab2"]) expect(JSON.parse(decode(now[h]!)!)["cluster-store"], h).toBe(STORES.consul.url);
        expect(now["lab3"], "lab3's daemon.json untouched").toEqual(originals["lab3"]);
        expect(dockerUp(host("lab3"))).toBe(true);
        expect(reaches("a"), "gateway (lab1) -> a (lab2)").toBe(true);
        record("a host's sshd stopped in the middle of `up`", "`up --continue-on-error` failed naming lab3 (10.210.0.13); lab1 and lab2 converged and talk; lab3 untouched");
        expectNoCanary();

        labSh("sshd", "lab3", "start");
        const again = await phase("faults: up, lab3 back", () => upResult());
        expect(again.ok, again.text.slice(-3000)).toBe(true);
        expect(reaches("a") && reaches("b")).toBe(true);
        table[table.length - 1]!.outcome += "; the next `up` converged, no manual step";
        expectNoCanary();
        await phase("faults: destroy", () => destroyAndCheck());
    }, 900_000);

    it("a daemon that refuses the new daemon.json is rolled back and running; then destroy after the failed up restores every host", async () => {
        await startClean();
        const lab2 = host("lab2");
        // lab2's dockerd gets a flag (as a unit's ExecStart could) that our daemon.json repeats:
        // dockerd refuses to start with both (moby#25471). It starts fine with its original file.
        ssh(lab, lab2, `echo --cluster-store-opt=discovery.ttl=10 > ${FLAGS_FILE} && /usr/local/sbin/dolab-dockerd restart >/dev/null`);
        expect(dockerUp(lab2)).toBe(true);
        const up = await phase("faults: up, lab2 refuses its daemon.json", () => upResult());
        expect(up.ok).toBe(false);
        expect(up.text).toContain("overlay-lab2-daemon-config-apply");
        expect(up.text).toContain("specified both as a flag and in the configuration file");
        expect(up.text).toMatch(/roll|restored|put back/i);
        expect(daemonJsons(lab)["lab2"], "lab2's daemon.json back byte for byte").toEqual(originals["lab2"]);
        expect(dockerUp(lab2), "Docker running on lab2 after the rollback").toBe(true);
        record("a daemon refuses the new daemon.json", "`up` failed naming lab2 and dockerd's own error; lab2 rolled back to its original file, Docker running");
        expectNoCanary();

        await phase("faults: destroy after the failed up", () => destroyAndCheck());
        record("`destroy` after that failed `up`", "every host's daemon.json back byte for byte, Docker running, no containers left");
        ssh(lab, lab2, `rm -f ${FLAGS_FILE} && /usr/local/sbin/dolab-dockerd restart >/dev/null`);
        expectNoCanary();
    }, 900_000);

    it("the runner killed (SIGKILL) while lab2's daemon.json is being applied: destroy --run-program brings every host back", async () => {
        await startClean();
        const lab2 = host("lab2");
        let killed = "";
        let watching: NodeJS.Timeout | undefined;
        // Once lab2's apply has started, wait until its new daemon.json is in place (the restart is
        // under way), then kill the pulumi CLI, as a CI timeout or a lost runner would.
        const onEvent = (e: EngineEvent) => {
            if (watching || !e.resourcePreEvent?.metadata.urn.endsWith("overlay-lab2-daemon-config-apply")) return;
            watching = setInterval(() => {
                if (killed) return;
                const now = labExec("lab2", "sh", "-c", "if [ -e /etc/docker/daemon.json ]; then base64 -w0 /etc/docker/daemon.json; else echo ABSENT; fi").trim();
                if (now === (originals["lab2"] ?? "ABSENT")) return;
                killed = execFileSync("sh", ["-c", "pgrep -f -- '--stack e2e-faults( |$)' | xargs -r kill -KILL; echo killed"], { encoding: "utf8" }).trim();
            }, 50);
        };
        const up = await phase("faults: up, runner killed during lab2's apply", () => upResult({ onEvent }));
        clearInterval(watching);
        expect(killed).toBe("killed");
        expect(up.ok).toBe(false);
        expect(daemonJsons(lab)["lab2"], "lab2's daemon.json was ours when the runner died").not.toEqual(originals["lab2"]);
        // On lab2 the apply script goes on without its runner: Docker comes back (with the new
        // file or the previous one) and the host lock is let go. Until then, preflight would say
        // that another run is still at work there.
        const lockFree = () => labExec("lab2", "sh", "-c", "if flock -n /run/lock/docker-overlay.lock true; then echo free; else echo held; fi").trim() === "free";
        await poll(() => dockerUp(lab2) && lockFree(), (settled) => settled, { withinMs: 120_000, everyMs: 1000 });
        expect(dockerUp(lab2), "Docker running on lab2 after its runner died").toBe(true);
        // The killed run left its lock on the stack: `pulumi cancel` removes it (the README's
        // recovery). Then destroy, with --run-program (it writes the SSH key file again).
        await stack.cancel();
        const out: string[] = [];
        await phase("faults: destroy --run-program after the killed up", () => stack.destroy({ runProgram: true, onOutput: (l) => { out.push(l); process.stdout.write(l); } }));
        dirty = false;
        expect(daemonJsons(lab), "every daemon.json byte for byte as before").toEqual(originals);
        for (const h of lab.hosts) expect(dockerUp(h), `Docker running on ${h.name}`).toBe(true);
        expect(dockerUp(lab2)).toBe(true);
        record("the runner killed (SIGKILL) while a daemon's config is applied", "`destroy --run-program` brought every host back: each daemon.json byte for byte, Docker running (the backup's delete restores before it forgets)");
        expectNoCanary();
    }, 900_000);

    it("daemon.json edited by hand after up: destroy takes out only docker-overlay's keys and keeps the edit", async () => {
        await startClean();
        const up = await phase("faults: up before the hand edit", () => upResult());
        expect(up.ok, up.text.slice(-3000)).toBe(true);
        // On lab2 (which had a daemon.json) and lab3 (which had none): a key added by hand.
        for (const name of ["lab2", "lab3"]) ssh(lab, host(name), `sed -i '0,/{/s//{\\n  "debug": true,/' /etc/docker/daemon.json && grep -q '"debug": true' /etc/docker/daemon.json`);
        await phase("faults: destroy after the hand edit", () => stack.destroy({ runProgram: true, onOutput: (l) => process.stdout.write(l) }));
        dirty = false;
        const now = daemonJsons(lab);
        expect(now["lab1"]).toEqual(originals["lab1"]);
        expect(JSON.parse(decode(now["lab2"]!)!)).toEqual({ debug: true, ...JSON.parse(decode(originals["lab2"]!)!) });
        expect(JSON.parse(decode(now["lab3"]!)!)).toEqual({ debug: true });
        for (const h of lab.hosts) expect(dockerUp(h), `Docker running on ${h.name}`).toBe(true);
        record("`daemon.json` edited by hand after `up` (a key added on two hosts), then `destroy`", "only docker-overlay's keys taken out: the added key kept, every original key kept; Docker running");
        // The next scenario starts from the originals.
        ssh(lab, host("lab2"), "cat > /etc/docker/daemon.json && /usr/local/sbin/dolab-dockerd restart >/dev/null", decode(originals["lab2"]!)!);
        ssh(lab, host("lab3"), "rm -f /etc/docker/daemon.json && /usr/local/sbin/dolab-dockerd restart >/dev/null");
        expect(daemonJsons(lab)).toEqual(originals);
        expectNoCanary();
    }, 900_000);

    it("etcd unreachable during up (a stack on etcd): the same clear error, no daemon changed, and the next up converges", async () => {
        await startClean();
        etcdStack = await labStack(lab, "e2e-faults-etcd", { ...canaryConfig, ...STORES.etcd.overrides });
        await storeUnreachable("etcd", etcdStack);
        await phase("faults: destroy (etcd)", () => destroyAndCheck(etcdStack));
        for (const r of table) expect(r.bytesLost, r.scenario).toBe(0);
    }, 900_000);
});

