// `npm run bench` (bench/run.sh runs this after the toolchain, the packages and the compiled
// program are in place). Every figure is a ratio to a floor measured in the same run:
//
//   1 cold `pulumi up` on 3 fresh lab hosts, swarm and kv mode, against bench/floor-*.sh
//   2 cold `pulumi up` on 2, 4 and 8 hosts (swarm mode), against 2 hosts
//   3 no-op `pulumi up` and `pulumi preview` of the converged stack, against `pulumi preview`
//     of an empty inline program (the engine's own floor)
//   4 latency and throughput between containers on two hosts over the overlay, against the same
//     between the two hosts' own addresses; the overlay's MTU proven with DF pings
//   5 peak memory (VmHWM) of the program's process under the CLI, against an empty program
//
// Writes bench/results/latest.json and latest.md. Holds the lab's session lock for its whole
// run (scripts/labStack.ts `holdLabSession`), builds a fresh lab before every cold run, and
// destroys its stacks and removes the lab at the end, also on failure. Only erasable
// TypeScript: Node runs this file directly.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation/index.js";
import type * as LabStackModule from "../scripts/labStack";
import type * as StatsModule from "./stats";
import type * as BreakdownModule from "./breakdown";

// Node runs this file as ESM, which needs the ".ts" on a relative import, which the project's
// tsconfig must not allow (see scripts/lab.ts): loaded by names tsc does not check.
const LAB_STACK_MODULE = "../scripts/labStack.ts";
const STATS_MODULE = "./stats.ts";
const BREAKDOWN_MODULE = "./breakdown.ts";
let L!: typeof LabStackModule;
let S!: typeof StatsModule;
let B!: typeof BreakdownModule;
/** The project's root, as scripts/labStack.ts finds it (bench/run.sh starts there). */
const REPO = process.env.DOCKER_OVERLAY_REPO ?? process.cwd();
type Lab = LabStackModule.Lab;
type LabHost = LabStackModule.LabHost;
type Row = StatsModule.Row;

const OUT = path.join(REPO, "bench", "out");
const LOGS = path.join(OUT, "logs");
const RESULTS = path.join(REPO, "bench", "results");
/** Repetitions of the short measurements (no-op up, previews, pings, throughput): the median counts. */
const REPS = Number(process.env.BENCH_REPS ?? 3);
const SCALE_SIZES = (process.env.BENCH_SCALE ?? "2,4,8").split(",").map(Number);
const PINGS = 20;
/** `network.mtu` of Pulumi.lab.yaml (read in run()); the floor scripts use the same. */
let CONFIGURED_MTU = 1450;
/** What VXLAN adds; Docker's overlay gives containers the network's MTU option minus this. */
const VXLAN_OVERHEAD = 50;
const THROUGHPUT_BYTES = "200M";
/** BENCH_REPEAT=N: only cold ups, N in a row on each BENCH_SCALE size, and their tally (issue 14 point 4). */
const REPEAT = Number(process.env.BENCH_REPEAT ?? 0);
/** A run with other sizes or repetitions than the defaults says so in its results. */
const REDUCED = ["BENCH_SCALE", "BENCH_REPS", "BENCH_REPEAT"].filter((k) => process.env[k]).map((k) => `${k}=${process.env[k]}`).join(" ");

/** Issue 14's targets, each the ratio of one row (printed; the bench does not fail on them). */
const TARGETS = (): StatsModule.Target[] => [
    { what: "cold up <= 1.8x the docker-CLI floor, swarm (Automation API)", measure: "cold `pulumi up`, 3 hosts, swarm", max: 1.8 },
    { what: "cold up <= 1.8x the docker-CLI floor, kv (Automation API)", measure: "cold `pulumi up`, 3 hosts, kv (etcd on lab1)", max: 1.8 },
    { what: "cold up <= 1.8x the docker-CLI floor, kv, CLI", measure: CLI_COLD, max: 1.8 },
    { what: "no-op up <= 2x an empty program's preview, swarm (Automation API)", measure: "no-op `pulumi up`, 3 hosts, swarm", max: 2 },
    { what: "preview <= 2x an empty program's preview, swarm (Automation API)", measure: "`pulumi preview`, 3 hosts, swarm", max: 2 },
    { what: "no-op up <= 2x an empty program's preview, kv (Automation API)", measure: "no-op `pulumi up`, 3 hosts, kv", max: 2 },
    { what: "preview <= 2x an empty program's preview, kv (Automation API)", measure: "`pulumi preview`, 3 hosts, kv", max: 2 },
    { what: "no-op up <= 2x an empty program's preview, kv, CLI", measure: cliMeasure("no-op up"), max: 2 },
    { what: "preview <= 2x an empty program's preview, kv, CLI", measure: cliMeasure("preview"), max: 2 },
    { what: "time(8 hosts) / time(2 hosts) <= 1.5, swarm", measure: scaleMeasure(8), max: 1.5 },
];
const CLI_COLD = "cold `pulumi up --yes --skip-preview` of index.ts through the CLI, 3 hosts, kv (etcd on lab1; hosts as destroy left them, not rebuilt)";
const cliMeasure = (what: string) => `CLI \`pulumi ${what}\` of index.ts, 3 hosts, kv`;
const scaleMeasure = (n: number) => `cold \`pulumi up\`, ${n} hosts, swarm (gateway + service-a)`;

const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const log = (msg: string) => console.log(`[bench ${elapsed().padStart(7)}] ${msg}`);
const phase = (msg: string) => console.log(`\n== ${msg} (${elapsed()})`);

const rows: Row[] = [];
/** Steps that failed without stopping the bench (it exits non-zero when any did). */
const failedSteps: string[] = [];
const proofs: string[] = [];
const notes: string[] = [];
const extra: Record<string, number> = {};
/** Where the seconds of a cold and a no-op up went (bench/breakdown.ts), as printed. */
const breakdowns: string[] = [];
const logFile = (name: string) => path.join(LOGS, `${name}.log`);

/** Times `fn`, printing a line every 15 s while it runs so a person sees it is alive. */
async function timed<T>(what: string, fn: () => Promise<T> | T): Promise<{ seconds: number; value: T }> {
    const start = Date.now();
    log(`${what} ...`);
    const tick = setInterval(() => log(`  ... ${what}: ${((Date.now() - start) / 1000).toFixed(0)}s so far`), 15_000);
    try {
        const value = await fn();
        const seconds = (Date.now() - start) / 1000;
        log(`${what}: ${seconds.toFixed(1)}s`);
        return { seconds, value };
    } finally {
        clearInterval(tick);
    }
}

// ---------------------------------------------------------------------------------------------
// the lab, held under its session lock
// ---------------------------------------------------------------------------------------------

// The lab's session lock: scripts/labStack.ts holdLabSession, shared with the tests.
let releaseLabSession: () => void = () => {};
let lockHeld = false;

function labSh(args: string[], name: string): void {
    const r = spawnSync("bash", ["lab/lab.sh", ...args], { cwd: REPO, encoding: "utf8", env: process.env, maxBuffer: 64 * 1024 * 1024 });
    fs.appendFileSync(logFile(name), `$ lab.sh ${args.join(" ")}\n${r.stdout}${r.stderr}`);
    if (r.status !== 0) throw new Error(`lab.sh ${args.join(" ")} failed (exit ${r.status}); see ${logFile(name)}:\n${(r.stdout + r.stderr).split("\n").slice(-15).join("\n")}`);
}

let labUp = false;
async function freshLab(n: number): Promise<Lab> {
    if (!lockHeld) throw new Error("the lab's session lock is not held");
    const { seconds } = await timed(`fresh lab of ${n} hosts (lab.sh up ${n} --recreate)`, () => labSh(["up", String(n), "--recreate"], "lab"));
    labUp = true;
    extra[`lab set-up, ${n} hosts (s)`] = seconds;
    return L.readLab();
}

function knownHosts(lab: Lab): string {
    const file = `${lab.privateKeyPath}.known-bench`;
    fs.writeFileSync(file, lab.hosts.map((h) => `${h.address} ${h.hostKey}\n`).join(""));
    return file;
}

function sshArgs(lab: Lab, host: LabHost, command: string): string[] {
    return ["-i", lab.privateKeyPath, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", `UserKnownHostsFile=${knownHosts(lab)}`, "-o", "StrictHostKeyChecking=yes", `${host.sshUser}@${host.address}`, command];
}

/** A shell command on a lab host over ssh: status and output, never throws. */
function sshRun(lab: Lab, host: LabHost, command: string, timeoutMs = 120_000) {
    const r = spawnSync("ssh", sshArgs(lab, host, command), { encoding: "utf8", timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
    return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "", out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}
function ssh(lab: Lab, host: LabHost, command: string, timeoutMs = 120_000): string {
    const r = sshRun(lab, host, command, timeoutMs);
    if (r.status !== 0) throw new Error(`ssh ${host.name} ${command}: exit ${r.status}: ${r.out.trim()}`);
    return r.stdout;
}

function docker(host: LabHost, args: string[]) {
    const r = spawnSync("docker", ["-H", `unix://${host.dockerSocket}`, ...args], { encoding: "utf8", timeout: 120_000 });
    return { status: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}`.trim(), stdout: (r.stdout ?? "").trim() };
}

// ---------------------------------------------------------------------------------------------
// stacks
// ---------------------------------------------------------------------------------------------

/** `main` of program.ts, compiled by bench/run.sh to bench/out/bin. */
const main = () => (createRequire(path.join(REPO, "package.json"))("./bench/out/bin/program.js") as { main: () => Record<string, unknown> }).main();
const openStacks = new Map<string, Stack>();

async function labStack(lab: Lab, stackName: string, overrides: Record<string, unknown>): Promise<Stack> {
    const workDir = L.defaultWorkDir(stackName);
    fs.rmSync(workDir, { recursive: true, force: true });
    const stack = await L.openStack({ stackName, workDir, config: L.labConfig(lab, overrides), privateKey: fs.readFileSync(lab.privateKeyPath, "utf8"), program: () => main() });
    openStacks.set(stackName, stack);
    return stack;
}

const engineLog = (name: string) => (s: string) => fs.appendFileSync(logFile(name), s);

/** Changes other than "same" in an engine summary. */
function changes(summary: Record<string, number> | undefined): Record<string, number> {
    return Object.fromEntries(Object.entries(summary ?? {}).filter(([op, n]) => op !== "same" && n > 0));
}

async function destroyStack(name: string): Promise<void> {
    const stack = openStacks.get(name);
    if (!stack) return;
    openStacks.delete(name);
    try {
        const { seconds } = await timed(`pulumi destroy ${name}`, () => stack.destroy({ onOutput: engineLog(name) }));
        extra[`destroy ${name} (s)`] = seconds;
        await stack.workspace.removeStack(name);
    } catch (e) {
        log(`destroy of ${name} failed (the lab goes away anyway): ${String(e).split("\n").slice(-3).join(" ")}`);
    }
    fs.rmSync(stack.workspace.workDir, { recursive: true, force: true });
}

/** The lab stack's services without their Consul registration (the floors register nothing). */
function plainServices(): Record<string, unknown>[] {
    const services = L.readStackFile(`${L.REPO}/Pulumi.lab.yaml`)[`${L.NS}:services`] as Record<string, unknown>[];
    return services.map(({ registerInConsul: _r, ...s }) => s);
}

function swarmOverrides(): Record<string, unknown> {
    return { mode: "swarm", kv: undefined, services: plainServices() };
}

/** kv mode on etcd, as bench/floor-kv.sh does it (the lab stack itself runs Consul). */
function kvOverrides(): Record<string, unknown> {
    return { kv: { backend: "etcd", host: "lab1", image: "dolab/etcd:3.4", pull: false }, services: plainServices() };
}

// ---------------------------------------------------------------------------------------------
// 1: cold up against the floor scripts
// ---------------------------------------------------------------------------------------------

/** The floor really reached the stack's end state: the overlay exists and traffic crosses it by name. */
function verifyEndState(lab: Lab, mode: "kv" | "swarm", who: string, kind = "floor"): void {
    const [h1] = lab.hosts;
    const net = docker(h1!, ["network", "inspect", "-f", "{{.Scope}} {{.Driver}} {{index .Options \"com.docker.network.driver.mtu\"}}", "lab_overlay"]);
    const want = `${mode === "kv" ? "global" : "swarm"} overlay ${CONFIGURED_MTU}`;
    if (net.stdout !== want) throw new Error(`${who}: lab_overlay on lab1 is "${net.out}", expected "${want}"`);
    for (const [from, to] of [["gateway", "service-a"], ["gateway", "a"], ["gateway", "service-b"], ["gateway", "b"]] as const) {
        const r = docker(h1!, ["exec", from, "ping", "-c", "2", "-W", "3", to]);
        if (r.status !== 0) throw new Error(`${who}: ${from} on lab1 cannot ping ${to} over the overlay: ${r.out}`);
    }
    if (mode === "kv") {
        // From the API: the machine's docker CLI no longer knows ClusterStore (docs/lab.md).
        for (const h of lab.hosts) {
            const r = spawnSync("curl", ["-sf", "--unix-socket", h.dockerSocket, "http://d/info"], { encoding: "utf8", timeout: 30_000 });
            const info = JSON.parse(r.stdout || "{}") as { ClusterStore?: string; ClusterAdvertise?: string };
            if (info.ClusterStore !== `etcd://${h1!.address}:2379` || !info.ClusterAdvertise) throw new Error(`${who}: ${h.name}'s daemon reports cluster store "${info.ClusterStore}", advertise "${info.ClusterAdvertise}"`);
        }
    } else {
        for (const h of lab.hosts) {
            const state = docker(h, ["info", "--format", "{{.Swarm.LocalNodeState}}"]).stdout;
            if (state !== "active") throw new Error(`${who}: ${h.name} is "${state}" in the swarm`);
        }
    }
    const link = docker(h1!, ["exec", "gateway", "ip", "-o", "link", "show", "eth0"]).stdout.match(/mtu (\d+)/)?.[1];
    proofs.push(`${who} (${kind}, ${mode}): lab_overlay's MTU option ${want.split(" ")[2]}; the gateway container's eth0 has MTU ${link ?? "unknown"}`);
    log(`${who}: verified (lab_overlay ${want}; gateway pings service-a, a, service-b, b by name${mode === "kv" ? "; every daemon on the etcd store" : "; every host active in the swarm"})`);
}

async function floorRun(mode: "kv" | "swarm"): Promise<number> {
    const lab = await freshLab(3);
    const script = `bench/floor-${mode}.sh`;
    const { seconds } = await timed(`floor: ${script}`, () => {
        const r = spawnSync("bash", [script], { cwd: REPO, encoding: "utf8", timeout: 600_000 });
        fs.writeFileSync(logFile(`floor-${mode}`), `${r.stdout}${r.stderr}`);
        if (r.status !== 0) throw new Error(`${script} failed (exit ${r.status}): ${(r.stdout + r.stderr).trim()}`);
    });
    verifyEndState(lab, mode, script);
    return seconds;
}

/** Per lab host, the SSH connections its sshd has accepted so far (its `sshd -E` log). */
function sshAccepted(lab: Lab): Record<string, number> {
    return Object.fromEntries(
        lab.hosts.map((h) => {
            const file = path.join(path.dirname(path.dirname(h.dockerSocket)), "log", "sshd.log");
            return [h.name, fs.existsSync(file) ? B.acceptedCount(fs.readFileSync(file, "utf8")) : 0];
        }),
    );
}

/**
 * `pulumi up`, timed, with the engine's events recorded as they arrive and the SSH connections
 * counted: prints (and keeps for the results) where its seconds went.
 */
async function tracedUp(stack: Stack, lab: Lab, title: string) {
    const before = sshAccepted(lab);
    const cpuBefore = S.parseProcStat(fs.readFileSync("/proc/stat", "utf8"));
    const ownBefore = S.parseProcessCpu(fs.readFileSync("/proc/self/stat", "utf8"));
    const events: BreakdownModule.TimedEvent[] = [];
    let started = Date.now();
    const result = await timed(title, () => {
        started = Date.now();
        return stack.up({ onOutput: engineLog(stack.name), onEvent: (e) => events.push(B.classify(e as unknown as Record<string, unknown>, Date.now() - started)) });
    });
    const cpuAfter = S.parseProcStat(fs.readFileSync("/proc/stat", "utf8"));
    const ownAfter = S.parseProcessCpu(fs.readFileSync("/proc/self/stat", "utf8"));
    const after = sshAccepted(lab);
    const ssh = Object.fromEntries(Object.entries(after).map(([h, n]) => [h, n - (before[h] ?? 0)]));
    // Everything on this machine runs on its CPUs: the lab's dockerds and sshds, the engine, the
    // providers, the program. Near all of them busy means the run waited for CPU, not for the hosts.
    const cpus = os.availableParallelism();
    const busy = S.busyCpus(cpuBefore, cpuAfter, cpus);
    extra[`CPUs busy on average, ${title}`] = busy;
    // CPU seconds: all of the machine's, and this side's: the program (it runs in this process)
    // plus the CLI and what it waited for (engine, plugins, their ssh clients). The rest is the
    // lab hosts' (dockerd, containerd, sshd, the containers) and whatever else ran meanwhile.
    const tick = 100; // USER_HZ
    const allSeconds = (busy * (cpuAfter.total - cpuBefore.total)) / cpus / tick;
    const ours = (ownAfter.self - ownBefore.self + ownAfter.children - ownBefore.children) / tick;
    extra[`CPU seconds, ${title}`] = allSeconds;
    extra[`CPU seconds of the program, CLI, engine and plugins, ${title}`] = ours;
    const text = [
        B.renderBreakdown(title, B.breakdown(events, Date.now() - started, ssh)),
        `  the machine's CPUs during the run: ${busy.toFixed(2)} of ${cpus} busy on average (${((100 * busy) / cpus).toFixed(0)}%): ${allSeconds.toFixed(1)} CPU seconds, ` +
            `of which ${ours.toFixed(1)} the program, CLI, engine and plugins (with their ssh), ${(allSeconds - ours).toFixed(1)} the lab hosts and the rest`,
    ].join("\n");
    console.log(text);
    breakdowns.push(text);
    return result;
}

/** Cold `pulumi up` on a fresh lab; the stack stays up (converged) for what follows. */
async function coldUp(n: number, stackName: string, overrides: Record<string, unknown>, checked = true): Promise<{ lab: Lab; stack: Stack; seconds: number; outputs: Record<string, unknown> }> {
    const lab = await freshLab(n);
    const stack = await labStack(lab, stackName, overrides);
    const { seconds, value: up } = await tracedUp(stack, lab, `cold pulumi up ${stackName} (${n} hosts)`);
    if (up.summary.result !== "succeeded") throw new Error(`pulumi up ${stackName}: ${up.summary.result}`);
    if (!checked) return { lab, stack, seconds, outputs: Object.fromEntries(Object.entries(up.outputs).map(([k, v]) => [k, v.value])) };
    const report = up.outputs.connectivityReport?.value as { from: string; results: { byAddress: boolean; byName: boolean }[] }[] | undefined;
    const pairs = (report ?? []).flatMap((r) => r.results);
    if (!report || report.length !== n || pairs.length !== n * (n - 1) || !pairs.every((x) => x.byAddress && x.byName))
        throw new Error(`pulumi up ${stackName}: the connectivity report is not all green: ${JSON.stringify(report)}`);
    log(`${stackName}: up succeeded, its connectivity check passed for all ${pairs.length} host pairs`);
    return { lab, stack, seconds, outputs: Object.fromEntries(Object.entries(up.outputs).map(([k, v]) => [k, v.value])) };
}

// ---------------------------------------------------------------------------------------------
// 3: no-op up and preview against an empty program
// ---------------------------------------------------------------------------------------------

async function emptyProgramPreview(): Promise<number> {
    const workDir = L.defaultWorkDir("bench-empty");
    fs.rmSync(workDir, { recursive: true, force: true });
    fs.mkdirSync(path.join(workDir, "state"), { recursive: true });
    const stack = await LocalWorkspace.createOrSelectStack(
        { stackName: "bench-empty", projectName: "bench-empty", program: async () => ({}) },
        { workDir, projectSettings: { name: "bench-empty", runtime: "nodejs" }, secretsProvider: "passphrase", envVars: L.pulumiEnv(workDir) },
    );
    try {
        const times: number[] = [];
        for (let i = 1; i <= REPS; i++) times.push((await timed(`pulumi preview of an empty inline program (${i}/${REPS})`, () => stack.preview({ onOutput: engineLog("bench-empty") }))).seconds);
        return S.median(times);
    } finally {
        await stack.workspace.removeStack("bench-empty").catch(() => undefined);
        fs.rmSync(workDir, { recursive: true, force: true });
    }
}

/**
 * One more no-op `up` (not in the table's median) with the engine's verbose log on stderr, read
 * for what the engine's events cannot split: the CLI before the program, plugin start, the
 * providers' calls, the end (bench/breakdown.ts engineLogBreakdown). The log holds the stack's
 * secrets in plain text (the engine logs every property it sends), so it is read in memory and
 * never written anywhere.
 */
async function engineLogNoop(stack: Stack): Promise<void> {
    const title = `no-op pulumi up ${stack.name}, the engine's verbose log (not counted in the table)`;
    const started = Date.now();
    const { value } = await timed(title, () => stack.up({ onOutput: engineLog(stack.name), logToStdErr: true, logVerbosity: 9 }));
    const ended = Date.now();
    const text = B.renderEngineLog(title, B.engineLogBreakdown(B.logLines(value.stderr), started, ended), (ended - started) / 1000);
    console.log(text);
    breakdowns.push(text);
}

async function steadyState(stack: Stack, lab: Lab, label: string, emptyPreview: number): Promise<void> {
    const name = stack.name;
    const ups: number[] = [];
    const previews: number[] = [];
    const changed: string[] = [];
    for (let i = 1; i <= REPS; i++) {
        const title = `no-op pulumi up ${name} (${i}/${REPS})`;
        const { seconds, value } = i === 1 ? await tracedUp(stack, lab, title) : await timed(title, () => stack.up({ onOutput: engineLog(name) }));
        ups.push(seconds);
        const c = changes(value.summary.resourceChanges);
        if (Object.keys(c).length) changed.push(`up ${i}: ${JSON.stringify(c)}`);
    }
    await engineLogNoop(stack);
    for (let i = 1; i <= REPS; i++) {
        const { seconds, value } = await timed(`pulumi preview ${name} (${i}/${REPS})`, () => stack.preview({ onOutput: engineLog(name) }));
        previews.push(seconds);
        const c = changes(value.changeSummary);
        if (Object.keys(c).length) changed.push(`preview ${i}: ${JSON.stringify(c)}`);
    }
    const note = changed.length ? `NOT a no-op: ${changed.join("; ")}` : `median of ${REPS}, nothing changed`;
    if (changed.length) notes.push(`${label}: ${note}`);
    const floorIs = `\`pulumi preview\`, empty inline program (median of ${REPS})`;
    rows.push(S.row({ section: "3 steady state", measure: `no-op \`pulumi up\`, 3 hosts, ${label}`, value: S.median(ups), floor: emptyPreview, floorIs, unit: "s", note }));
    rows.push(S.row({ section: "3 steady state", measure: `\`pulumi preview\`, 3 hosts, ${label}`, value: S.median(previews), floor: emptyPreview, floorIs, unit: "s", note }));
}

// ---------------------------------------------------------------------------------------------
// 4: data plane
// ---------------------------------------------------------------------------------------------

/** PID (in its host's PID namespace) of a container, read inside the host. */
function containerPid(lab: Lab, host: LabHost, name: string): number {
    const pid = Number(ssh(lab, host, `docker inspect -f '{{.State.Pid}}' ${name}`).trim());
    if (!(pid > 0)) throw new Error(`${name} on ${host.name} has no PID`);
    return pid;
}

function pingTimes(lab: Lab, host: LabHost, prefix: string, target: string): number[] {
    const r = sshRun(lab, host, `${prefix}/usr/bin/ping -n -c ${PINGS} -i 0.2 -W 2 ${target}`, 60_000);
    const times = S.parsePingTimes(r.stdout);
    if (r.status !== 0 || times.length !== PINGS) throw new Error(`ping ${target} from ${host.name} (${prefix || "host"}): exit ${r.status}, ${times.length}/${PINGS} replies: ${r.out.trim().split("\n").slice(-3).join(" ")}`);
    return times;
}

/** iperf3 -n 200M from `client` to `server`: received Mbit/s as the receiver counted them (median of REPS). */
async function throughput(lab: Lab, client: LabHost, clientPrefix: string, server: LabHost, serverPrefix: string, target: string): Promise<number> {
    const rates: number[] = [];
    for (let i = 1; i <= REPS; i++) {
        // One-off server (-1), bounded by timeout so nothing is left listening. Its "listening"
        // line may sit in a pipe buffer, so the client also retries while the port is closed.
        const srv = spawn("ssh", sshArgs(lab, server, `${serverPrefix}timeout 120 /usr/bin/iperf3 -s -1 -p 5201 --forceflush`), { stdio: ["ignore", "pipe", "pipe"] });
        let srvOut = "";
        srv.stdout!.on("data", (d) => (srvOut += String(d)));
        srv.stderr!.on("data", (d) => (srvOut += String(d)));
        const srvExit = new Promise<number | null>((resolve) => srv.once("exit", (code) => resolve(code)));
        const listening = Date.now() + 5_000;
        while (!srvOut.includes("Server listening") && Date.now() < listening && srv.exitCode === null) await new Promise((res) => setTimeout(res, 100));
        const client_ = `${clientPrefix}/usr/bin/iperf3 -c ${target} -p 5201 -n ${THROUGHPUT_BYTES} -J`;
        let r = sshRun(lab, client, client_, 120_000);
        for (let tries = 0; r.status !== 0 && /unable to connect|Connection refused/i.test(r.out) && tries < 40 && srv.exitCode === null; tries++) {
            await new Promise((res) => setTimeout(res, 250));
            r = sshRun(lab, client, client_, 120_000);
        }
        if (r.status !== 0) srv.kill();
        await srvExit;
        if (r.status !== 0) throw new Error(`iperf3 -c ${target} from ${client.name}: exit ${r.status}: ${r.out.slice(0, 500)}; server: ${srvOut.slice(0, 300)}`);
        const { bytes, seconds } = S.parseIperfReceived(r.stdout);
        rates.push((bytes * 8) / seconds / 1e6);
    }
    return S.median(rates);
}

async function dataPlane(lab: Lab, label: string, addresses: Record<string, string>): Promise<void> {
    const [h1, h2] = lab.hosts as [LabHost, LabHost];
    const target = addresses["service-a"]!;
    const gw = containerPid(lab, h1, "gateway");
    const sa = containerPid(lab, h2, "service-a");
    const inGw = `nsenter -t ${gw} -n `;
    const inSa = `nsenter -t ${sa} -n `;
    const pair = `gateway on lab1 -> service-a on lab2 (${target})`;
    const hostsIs = `lab1 -> lab2 host addresses (${h2.address})`;

    // The gateway's interface on the overlay (found by its overlay address) and its MTU.
    const gwAddress = addresses["gateway"]!;
    const dev = ssh(lab, h1, `${inGw}ip -o -4 addr show`).split("\n").find((l) => l.includes(` ${gwAddress}/`))?.split(/\s+/)[1];
    const mtu = dev ? ssh(lab, h1, `${inGw}ip -o link show dev ${dev}`).match(/mtu (\d+)/)?.[1] : undefined;
    const overlay = (await timed(`${label}: ${PINGS} pings ${pair}`, () => pingTimes(lab, h1, inGw, target))).value;
    const hosts = (await timed(`${label}: ${PINGS} pings ${hostsIs}`, () => pingTimes(lab, h1, "", h2.address))).value;
    const note = `${PINGS} iputils pings, 0.2 s apart`;
    rows.push(S.row({ section: "4 data plane", measure: `latency avg, ${label} overlay: ${pair}`, value: S.mean(overlay), floor: S.mean(hosts), floorIs: hostsIs, unit: "ms", note }));
    rows.push(S.row({ section: "4 data plane", measure: `latency p50, ${label} overlay: ${pair}`, value: S.median(overlay), floor: S.median(hosts), floorIs: hostsIs, unit: "ms", note }));

    const overlayRate = (await timed(`${label}: iperf3 ${THROUGHPUT_BYTES} x${REPS} ${pair}`, () => throughput(lab, h1, inGw, h2, inSa, target))).value;
    const hostRate = (await timed(`${label}: iperf3 ${THROUGHPUT_BYTES} x${REPS} ${hostsIs}`, () => throughput(lab, h1, "", h2, "", h2.address))).value;
    rows.push(S.row({ section: "4 data plane", measure: `throughput, ${label} overlay: ${pair}`, value: overlayRate, floor: hostRate, floorIs: hostsIs, unit: "Mbit/s", note: `iperf3 TCP, -n ${THROUGHPUT_BYTES} (MiB), bytes and seconds as received, median of ${REPS}` }));

    // DF proof. `network.mtu` (Pulumi.lab.yaml: 1450) is Docker's overlay option, which is the
    // underlay's MTU: containers get 50 less, the VXLAN header (libnetwork's maxMTU; README,
    // config reference). The largest packet that MTU allows must cross to the other host with
    // DF set; one byte more must be refused.
    const option = docker(h1, ["network", "inspect", "-f", '{{index .Options "com.docker.network.driver.mtu"}}', "lab_overlay"]).stdout;
    const expected = Number(option) - VXLAN_OVERHEAD;
    proofs.push(`${label} stack: lab_overlay's MTU option is "${option}" (configured: ${CONFIGURED_MTU}); the gateway's overlay interface ${dev ?? "(not found)"} has MTU ${mtu ?? "unknown"} (expected ${expected}: the option minus VXLAN's 50)`);
    if (option !== String(CONFIGURED_MTU) || mtu !== String(expected)) notes.push(`${label}: MTU option "${option}" / container interface ${mtu ?? "unknown"}, expected ${CONFIGURED_MTU} / ${CONFIGURED_MTU - VXLAN_OVERHEAD}`);
    const firstLine = (s: string) => {
        const lines = s.trim().split("\n");
        return lines.find((l) => /too long/.test(l)) ?? lines.find((l) => /bytes from|error|packet loss/.test(l)) ?? lines[0];
    };
    const m = Number(mtu ?? expected);
    const fits = sshRun(lab, h1, `${inGw}/usr/bin/ping -n -M do -s ${m - 28} -c 1 -W 3 ${target}`, 30_000);
    const over = sshRun(lab, h1, `${inGw}/usr/bin/ping -n -M do -s ${m - 27} -c 1 -W 3 ${target}`, 30_000);
    const fitsOk = fits.status === 0 && S.parsePingTimes(fits.stdout).length === 1;
    const overOk = over.status !== 0 && /message too long/.test(over.out);
    proofs.push(`${label} stack, DF at the container MTU ${m}: \`ping -M do -s ${m - 28}\` (${m}-byte packets, ${m + VXLAN_OVERHEAD} on the underlay) from gateway to service-a on the other host ${fitsOk ? "PASSES" : "FAILS"} (exit ${fits.status}: ${firstLine(fits.out)}); \`-s ${m - 27}\` (${m + 1} bytes) ${overOk ? "is refused, as it must be" : "is NOT refused"} (exit ${over.status}: ${firstLine(over.out)})`);
    log(proofs[proofs.length - 1]!);
    if (!fitsOk || !overOk) notes.push(`${label}: the DF proof at the container MTU ${m} did not come out as expected (see the MTU lines)`);
}

// ---------------------------------------------------------------------------------------------
// 5: peak memory of the program's process under the CLI
// ---------------------------------------------------------------------------------------------

/** PIDs under `root` (children, grandchildren...), from /proc. */
function descendants(root: number): number[] {
    const kids = new Map<number, number[]>();
    for (const e of fs.readdirSync("/proc")) {
        if (!/^[0-9]+$/.test(e)) continue;
        let stat: string;
        try {
            stat = fs.readFileSync(`/proc/${e}/stat`, "utf8");
        } catch {
            continue;
        }
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        (kids.get(ppid) ?? kids.set(ppid, []).get(ppid)!).push(Number(e));
    }
    const out: number[] = [];
    const queue = [root];
    while (queue.length) for (const k of kids.get(queue.shift()!) ?? []) (out.push(k), queue.push(k));
    return out;
}

interface PeakResult { status: number | null; seconds: number; peakKiB: number | null; program: string | null; out: string }

/** Runs the CLI in `dir` and polls /proc every 20 ms for the Node process that runs the program (cmdline with `cmd/run`), keeping its VmHWM. */
async function cliPeak(dir: string, args: string[], env: NodeJS.ProcessEnv, name: string): Promise<PeakResult> {
    const start = Date.now();
    const child = spawn("pulumi", [...args, "--non-interactive"], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (d) => (out += String(d)));
    child.stderr!.on("data", (d) => (out += String(d)));
    const peaks = new Map<number, { kib: number; cmd: string }>();
    const poll = () => {
        if (!child.pid) return;
        for (const pid of descendants(child.pid)) {
            try {
                const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
                if (!/cmd\/run/.test(cmd)) continue;
                const kib = S.parseVmHWM(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
                if (kib != null && kib > (peaks.get(pid)?.kib ?? 0)) peaks.set(pid, { kib, cmd });
            } catch {
                /* gone between the listing and the read */
            }
        }
    };
    const timer = setInterval(poll, 20);
    const status = await new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    clearInterval(timer);
    fs.writeFileSync(logFile(name), out);
    const best = [...peaks.values()].sort((a, b) => b.kib - a.kib)[0];
    return { status, seconds: (Date.now() - start) / 1000, peakKiB: best?.kib ?? null, program: best?.cmd ?? null, out };
}

/** The run with the median peak among those that succeeded and saw the program (a failed one if none did). */
function medianPeak(runs: PeakResult[]): PeakResult {
    const ok = runs.filter((r) => r.status === 0 && r.peakKiB != null).sort((a, b) => a.peakKiB! - b.peakKiB!);
    if (ok.length === 0) return runs.find((r) => r.status !== 0) ?? runs[0]!;
    const peaks = ok.map((r) => r.peakKiB!);
    log(`  program peaks: ${peaks.map((k) => (k / 1024).toFixed(1)).join(", ")} MiB`);
    return { ...ok[Math.floor((ok.length - 1) / 2)]!, peakKiB: S.median(peaks) };
}

function cliProjectDir(name: string, files: Record<string, string>, copy: string[]): string {
    const dir = path.join(OUT, "cli", name);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(path.join(dir, "state"), { recursive: true });
    for (const f of copy) fs.cpSync(path.join(REPO, f), path.join(dir, f), { recursive: true });
    for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
    return dir;
}

const cliEnv = (backendDir: string): NodeJS.ProcessEnv => ({ ...process.env, ...L.pulumiEnv(backendDir) });

/** Seconds of the empty program's CLI preview (median): the floor of the CLI's time rows. */
let emptyCliSeconds: number | null = null;

/** The empty program's process under the CLI (`pulumi preview` of `export = {}`). */
async function emptyProgramPeak(): Promise<PeakResult> {
    const dir = cliProjectDir(
        "empty",
        {
            "Pulumi.yaml": "name: bench-empty\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n",
            "index.ts": "// An empty Pulumi program: the floor of the program process's memory.\nexport = {};\n",
            "package.json": '{ "name": "bench-empty", "private": true, "main": "index.ts" }\n',
        },
        ["tsconfig.json"],
    );
    const env = cliEnv(dir);
    const init = spawnSync("pulumi", ["stack", "init", "bench-empty-cli", "--non-interactive"], { cwd: dir, env, encoding: "utf8" });
    if (init.status !== 0) throw new Error(`pulumi stack init (empty program): ${init.stdout}${init.stderr}`);
    const runs: PeakResult[] = [];
    for (let i = 1; i <= REPS; i++) runs.push((await timed(`CLI: pulumi preview of an empty program, peak memory (${i}/${REPS})`, () => cliPeak(dir, ["preview"], env, `cli-empty-preview-${i}`))).value);
    fs.rmSync(dir, { recursive: true, force: true });
    const ok = runs.filter((r) => r.status === 0);
    emptyCliSeconds = ok.length ? S.median(ok.map((r) => r.seconds)) : null;
    return medianPeak(runs);
}

/**
 * The project (index.ts, through the language host) as users run it, with the converged stack's
 * file and state: first the stack is destroyed and `pulumi up` of the CLI brings it up again (a
 * cold up on hosts that destroy put back, not on rebuilt ones), then preview and no-op up, timed
 * and with the program process's peak memory.
 */
async function projectPeaks(stack: Stack, empty: PeakResult | null, coldFloor: number): Promise<void> {
    const workDir = stack.workspace.workDir;
    const dir = cliProjectDir("project", {}, ["Pulumi.yaml", "index.ts", "program.ts", "tsconfig.json", "package.json", "components"]);
    fs.copyFileSync(path.join(workDir, `Pulumi.${stack.name}.yaml`), path.join(dir, `Pulumi.${stack.name}.yaml`));
    const env = cliEnv(workDir);
    const floorIs = `\`pulumi preview\`, empty program via the CLI (median of ${REPS})`;

    await timed(`pulumi destroy ${stack.name} (before the CLI's cold up)`, () => stack.destroy({ onOutput: engineLog(stack.name) }));
    const cold = (await timed(`CLI: cold pulumi up of the project, kv stack`, () => cliPeak(dir, ["up", "--yes", "--skip-preview", "--stack", stack.name], env, "cli-project-cold-up"))).value;
    if (cold.status !== 0) failedSteps.push(`CLI cold up: exit ${cold.status}: ${cold.out.trim().split("\n").slice(-2).join(" ")}`);
    rows.push(S.row({ section: "1 cold up", measure: CLI_COLD, value: cold.status === 0 ? cold.seconds : null, floor: coldFloor, floorIs: "bench/floor-kv.sh (docker CLI, same end state)", unit: "s", ...(cold.status === 0 ? {} : { note: `FAILED (exit ${cold.status})` }) }));

    const emptyMiB = empty?.peakKiB != null && empty.status === 0 ? empty.peakKiB / 1024 : null;
    for (const [what, args] of [
        ["preview", ["preview", "--stack", stack.name]],
        ["no-op up", ["up", "--yes", "--skip-preview", "--stack", stack.name]],
    ] as const) {
        const runs: PeakResult[] = [];
        for (let i = 1; i <= REPS; i++)
            runs.push((await timed(`CLI: pulumi ${what} of the project, kv stack, peak memory (${i}/${REPS})`, () => cliPeak(dir, [...args], env, `cli-project-${what.replace(/\W+/g, "-")}-${i}`))).value);
        const ok = runs.filter((x) => x.status === 0);
        rows.push(S.row({ section: "3 steady state", measure: cliMeasure(what), value: ok.length === runs.length ? S.median(ok.map((x) => x.seconds)) : null, floor: emptyCliSeconds, floorIs: `\`pulumi preview\` of an empty program through the CLI (median of ${REPS})`, unit: "s", note: ok.length === runs.length ? `median of ${REPS}, /proc polled every 20 ms meanwhile (section 5)` : `${runs.length - ok.length} of ${runs.length} runs failed` }));
        const r = medianPeak(runs);
        let note = `VmHWM of the \`cmd/run\` node process, polled every 20 ms, median of ${REPS}`;
        let value = r.peakKiB != null ? r.peakKiB / 1024 : null;
        if (r.status !== 0) {
            note = `the CLI failed (exit ${r.status}), not counted: ${r.out.trim().split("\n").slice(-2).join(" ")}`;
            value = null;
        } else if (what === "no-op up" && !/unchanged/.test(r.out)) note += "; the CLI's up reported changes";
        if (r.peakKiB == null) note = `no program process was seen (${note})`;
        rows.push(S.row({ section: "5 memory", measure: `peak RSS of the program process, CLI \`pulumi ${what}\`, 3 hosts, kv`, value, floor: emptyMiB, floorIs, unit: "MiB", note }));
    }
    fs.rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// the run
// ---------------------------------------------------------------------------------------------

function machine() {
    const cpu = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown";
    return {
        nproc: os.availableParallelism(),
        cpu,
        memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
        kernel: os.release(),
        date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        node: process.version,
    };
}

function writeResults(status: string, error?: string): void {
    const m = machine();
    const totalSeconds = (Date.now() - t0) / 1000;
    // In the order of the sections (the run measures them in another order).
    const sorted = [...rows].sort((a, b) => parseInt(a.section) - parseInt(b.section));
    const targets = REPEAT > 0 ? [] : S.renderTargets(S.checkTargets(sorted, TARGETS()));
    const doc = { status, ...(REDUCED ? { reduced: REDUCED } : {}), ...(error ? { error } : {}), machine: m, totalSeconds, rows: sorted, targets, proofs, notes, extra };
    fs.mkdirSync(RESULTS, { recursive: true });
    const base = REPEAT > 0 ? "repeat" : status === "complete" && !REDUCED ? "latest" : "partial";
    fs.writeFileSync(path.join(RESULTS, `${base}.json`), JSON.stringify(doc, null, 2) + "\n");
    const md = [
        `# docker-overlay benchmarks${status === "complete" ? "" : ` (${status})`}${REDUCED ? ` (reduced run: ${REDUCED})` : ""}`,
        "",
        `${m.date}; ${m.nproc} CPUs (${m.cpu}), ${m.memGiB} GiB RAM, kernel ${m.kernel}, Node ${m.node}; whole bench ${totalSeconds.toFixed(0)} s (\`npm run bench\`)${extra["waiting for the lab's session lock (s)"] ? `, of which ${extra["waiting for the lab's session lock (s)"].toFixed(0)} s waiting for the lab's session lock` : ""}.`,
        "Every ratio is value / floor, both measured in this run. Lab hosts are network namespaces on this one machine (docs/lab.md): the data plane is a veth/bridge, not a wire.",
        "",
        S.renderMarkdown(sorted).trimEnd(),
        "",
        ...(targets.length ? ["Issue 14's targets (ratios of the table above; the bench does not fail on them):", "", ...targets.map((t) => `- ${t}`), ""] : []),
        ...(proofs.length ? ["The overlay's MTU: the network option, the container interfaces, and the DF proof (iputils ping in the gateway container's network namespace, from its lab host):", "", ...proofs.map((p) => `- ${p}`), ""] : []),
        ...(breakdowns.length ? ["Where the seconds of each cold up and of the first no-op up went (bench/breakdown.ts: the engine's events, timed as they arrived; wall: while at least one step of the kind ran; summed: over the steps, which run side by side), and of one more no-op up by the engine's verbose log (its timestamps: plugin start, the providers' calls, the CLI before and after the engine):", "", "```", ...breakdowns.flatMap((b) => [b, ""]), "```", ""] : []),
        ...(notes.length ? ["Notes:", "", ...notes.map((n) => `- ${n}`), ""] : []),
        ...(error ? ["Stopped by an error:", "", "```", error, "```", ""] : []),
    ].join("\n");
    fs.writeFileSync(path.join(RESULTS, `${base}.md`), md);
    console.log(`\n${S.renderText(sorted)}`);
    if (targets.length) console.log(`targets (issue 14):\n${targets.map((t) => `  ${t}`).join("\n")}\n`);
    for (const p of proofs) console.log(`  ${p}`);
    for (const n of notes) console.log(`  note: ${n}`);
    console.log(`\nresults: bench/results/${base}.json and bench/results/${base}.md (${status}, ${totalSeconds.toFixed(0)} s)`);
}

async function run(): Promise<void> {
    CONFIGURED_MTU = (L.readStackFile(path.join(REPO, "Pulumi.lab.yaml"))["docker-overlay:network"] as { mtu: number }).mtu;
    fs.rmSync(LOGS, { recursive: true, force: true });
    fs.mkdirSync(LOGS, { recursive: true });
    log(`logs of every step: ${path.relative(REPO, LOGS)}/`);

    phase("3/5 floors that need no lab: empty program, inline preview and CLI memory");
    const emptyPreview = await emptyProgramPreview();
    let empty: PeakResult | null = null;
    try {
        empty = await emptyProgramPeak();
        if (empty.status !== 0 || empty.peakKiB == null) notes.push(`the empty program's CLI preview ${empty.status !== 0 ? `failed (exit ${empty.status})` : "showed no program process"}: its memory floor is missing`);
        else log(`empty program process: VmHWM ${(empty.peakKiB / 1024).toFixed(1)} MiB (${empty.program?.slice(0, 120)})`);
    } catch (e) {
        notes.push(`the empty program's CLI preview could not run: ${String(e).slice(0, 300)}`);
    }

    if (process.env.BENCH_NO_LAB === "1") {
        notes.push("BENCH_NO_LAB=1: only the measurements that need no lab were run");
        return;
    }
    const waited = Date.now();
    const release = await L.holdLabSession(1800, log);
    lockHeld = true;
    releaseLabSession = () => {
        release();
        lockHeld = false;
    };
    extra["waiting for the lab's session lock (s)"] = (Date.now() - waited) / 1000;
    log(`holding ${L.SESSION_LOCK}`);

    if (REPEAT > 0) {
        await repeatedColdUps(REPEAT);
        return;
    }

    for (const mode of ["swarm", "kv"] as const) {
        phase(`1 cold up, 3 hosts, ${mode} mode: the floor script`);
        const floor = await floorRun(mode);
        phase(`1 cold up, 3 hosts, ${mode} mode: pulumi up`);
        const name = `bench-${mode}`;
        const { lab, stack, seconds, outputs } = await coldUp(3, name, mode === "swarm" ? swarmOverrides() : kvOverrides());
        rows.push(S.row({ section: "1 cold up", measure: `cold \`pulumi up\`, 3 hosts, ${mode}${mode === "kv" ? " (etcd on lab1)" : ""}`, value: seconds, floor, floorIs: `bench/floor-${mode}.sh (docker CLI, same end state)`, unit: "s" }));
        phase(`3 steady state, ${mode} mode`);
        await steadyState(stack, lab, mode, emptyPreview);
        phase(`4 data plane, ${mode} mode`);
        await dataPlane(lab, mode, outputs.serviceAddresses as Record<string, string>);
        if (mode === "kv") {
            phase("5 memory of the program process under the CLI, kv mode");
            await projectPeaks(stack, empty, floor);
        }
        await destroyStack(name);
        if (mode === "swarm") {
            // Not a target: the floor's own work, for comparison. The stack without its probes and
            // check (connectivity.enabled: false), verified afterwards as the floor is (untimed).
            phase("1 cold up, 3 hosts, swarm mode, without the connectivity check");
            const unchecked = "bench-swarm-unchecked";
            const run = await coldUp(3, unchecked, { ...swarmOverrides(), connectivity: { ...(L.readStackFile(`${L.REPO}/Pulumi.lab.yaml`)[`${L.NS}:connectivity`] as object), enabled: false } }, false);
            verifyEndState(run.lab, "swarm", unchecked, "stack without its check");
            rows.push(
                S.row({ section: "1 cold up", measure: "cold `pulumi up`, 3 hosts, swarm, `connectivity.enabled: false` (no probes, no check: the floor's work; verified after, untimed)", value: run.seconds, floor, floorIs: "bench/floor-swarm.sh (docker CLI, same end state)", unit: "s" }),
            );
            await destroyStack(unchecked);
        }
    }

    phase(`2 scaling: cold up on ${SCALE_SIZES.join(", ")} hosts, swarm mode`);
    // Without Consul registration: the scaling stacks run no KV store.
    const services = plainServices().filter((s) => s.name === "gateway" || s.name === "service-a");
    // A size whose up fails is reported as failed (with its error) and the others still run;
    // the bench then exits non-zero.
    const times = new Map<number, number>();
    const failures = new Map<number, string>();
    for (const n of SCALE_SIZES) {
        const name = `bench-scale-${n}`;
        const started = Date.now();
        try {
            times.set(n, (await coldUp(n, name, { ...swarmOverrides(), services })).seconds);
        } catch (e) {
            const why = failureWhy(e);
            failures.set(n, `FAILED after ${((Date.now() - started) / 1000).toFixed(0)} s: ${why}${await recheck(n, name, why)}`);
            failedSteps.push(`cold up on ${n} hosts: ${why}`);
            log(`cold up on ${n} hosts failed: ${why}`);
        }
        await destroyStack(name);
    }
    const base = SCALE_SIZES[0]!;
    for (const n of SCALE_SIZES)
        rows.push(S.row({ section: "2 scaling", measure: scaleMeasure(n), value: times.get(n) ?? null, floor: times.get(base) ?? null, floorIs: `the same, ${base} hosts`, unit: "s", ...(failures.has(n) ? { note: failures.get(n)! } : {}) }));
}

/** The line of a failed up that says why, without the engine's "+  command:remote:Command ... creating (27s)" in front. */
function failureWhy(e: unknown): string {
    const line = String(e instanceof Error ? e.message : e).split("\n").filter((l) => /docker-overlay: .*cannot reach|error:/.test(l))[0];
    return line ? line.slice(Math.max(0, line.search(/docker-overlay: |error: /))).trim() : String(e).slice(0, 200);
}

/**
 * BENCH_REPEAT=N: N cold ups in a row on each BENCH_SCALE size, each on a lab built afresh, and
 * the tally (issue 14 point 4: the 8-host connectivity check). A stack is not destroyed between
 * runs: the next run rebuilds the lab, so its state is only forgotten.
 */
async function repeatedColdUps(times: number): Promise<void> {
    const services = plainServices().filter((s) => s.name === "gateway" || s.name === "service-a");
    for (const n of SCALE_SIZES) {
        phase(`repeat: ${times} cold ups in a row on ${n} hosts, swarm mode`);
        let passed = 0;
        for (let i = 1; i <= times; i++) {
            const name = `bench-repeat-${n}`;
            const started = Date.now();
            let value: number | null = null;
            let note = "passed: connectivity check green for every pair";
            try {
                value = (await coldUp(n, name, { ...swarmOverrides(), services })).seconds;
                passed++;
            } catch (e) {
                const why = failureWhy(e);
                note = `FAILED after ${((Date.now() - started) / 1000).toFixed(0)} s: ${why}`;
                failedSteps.push(`cold up ${i}/${times} on ${n} hosts: ${why}`);
                log(`cold up ${i}/${times} on ${n} hosts failed: ${why}`);
            }
            const stack = openStacks.get(name);
            openStacks.delete(name);
            if (stack) fs.rmSync(stack.workspace.workDir, { recursive: true, force: true });
            rows.push(S.row({ section: "6 repeat", measure: `cold \`pulumi up\` ${i}/${times}, ${n} hosts, swarm (gateway + service-a)`, value, floor: null, floorIs: "-", unit: "s", note }));
        }
        const tally = `${n} hosts: ${passed} of ${times} cold ups in a row passed (each on a lab built afresh; a pass means up succeeded and its connectivity check found all ${n * (n - 1)} host pairs reachable by address and by name)`;
        notes.push(tally);
        log(tally);
    }
}

/**
 * After a failed connectivity check: waits 30 s and pings the failed pair again from the same
 * probe container, to tell a slow convergence from a pair that never talks.
 */
async function recheck(n: number, stackName: string, why: string): Promise<string> {
    const m = /(lab\d+) cannot reach (\S+) \((10\.220\.0\.\d+)\)/.exec(why);
    if (!m) return "";
    const lab = L.readLab();
    const from = lab.hosts.find((h) => h.name === m[1]);
    if (!from) return "";
    await new Promise((res) => setTimeout(res, 30_000));
    const probe = `docker-overlay-${stackName}-probe-${from.name}`;
    const r = docker(from, ["exec", probe, "ping", "-c", "2", "-W", "3", m[3]!]);
    const byName = docker(from, ["exec", probe, "ping", "-c", "2", "-W", "3", m[2]!]);
    const result = `; 30 s later ${from.name}'s probe ${r.status === 0 ? "reaches" : "still cannot reach"} ${m[3]} by address and ${byName.status === 0 ? "reaches" : "cannot reach"} it by name`;
    log(`${n} hosts: re-check${result}`);
    return result;
}

async function cleanup(): Promise<void> {
    phase("clean-up: destroy stacks, remove the lab");
    for (const name of [...openStacks.keys()]) await destroyStack(name);
    if (labUp && lockHeld) {
        try {
            await timed("lab.sh down", () => labSh(["down"], "lab"));
            labUp = false;
        } catch (e) {
            log(String(e));
        }
    }
    releaseLabSession();
    fs.rmSync(path.join(OUT, "cli"), { recursive: true, force: true });
}

let interrupted = false;
for (const sig of ["SIGINT", "SIGTERM"] as const)
    process.on(sig, () => {
        if (interrupted) process.exit(130);
        interrupted = true;
        log(`${sig}: removing the lab, then stopping`);
        try {
            if (labUp && lockHeld) execFileSync("bash", ["lab/lab.sh", "down"], { cwd: REPO, stdio: "inherit" });
        } finally {
            releaseLabSession();
            process.exit(130);
        }
    });

async function start(): Promise<void> {
    L = (await import(LAB_STACK_MODULE)) as typeof LabStackModule;
    S = (await import(STATS_MODULE)) as typeof StatsModule;
    B = (await import(BREAKDOWN_MODULE)) as typeof BreakdownModule;
    try {
        await run();
        await cleanup();
        for (const f of failedSteps) notes.push(`step failed: ${f}`);
        writeResults(process.env.BENCH_NO_LAB === "1" ? "no lab" : "complete");
        if (failedSteps.length) {
            console.error(`\n${failedSteps.length} step(s) failed; their rows say so:\n${failedSteps.map((f) => `  ${f}`).join("\n")}`);
            process.exitCode = 1;
        }
    } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        console.error(`\nbench failed after ${elapsed()}: ${msg.split("\n").slice(-20).join("\n")}`);
        await cleanup();
        writeResults("failed", msg.split("\n").slice(-20).join("\n"));
        process.exitCode = 1;
    }
}

void start();
