// End-to-end helpers: a fresh lab, commands on its hosts, and the lab stack run through the
// Automation API with the real engine and providers (the toolchain's binaries on PATH).
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { Stack } from "@pulumi/pulumi/automation";
import { main } from "../../program";
import { defaultWorkDir, holdLabSession, Lab, labConfig, labExec, LAB_JSON, LabHost, openStack, pulumiEnv, readLab, REPO } from "../../scripts/labStack";

const timings: [string, number][] = [];
/** Runs `fn`, printing and recording how long it took. */
export async function phase<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
    const t0 = Date.now();
    try {
        return await fn();
    } finally {
        const s = (Date.now() - t0) / 1000;
        timings.push([name, s]);
        console.log(`[e2e] ${name}: ${s.toFixed(1)}s`);
    }
}
export function printTimings(title: string): void {
    console.log(`\n[e2e] ${title} timings\n` + timings.map(([n, s]) => `  ${n.padEnd(28)} ${s.toFixed(1)}s`).join("\n"));
}

export { holdLabSession, SESSION_LOCK } from "../../scripts/labStack";

/** A fresh lab of `n` hosts (everything from a previous lab removed first), held for this test file. */
export async function freshLab(n: number): Promise<Lab> {
    await holdLabSession();
    execFileSync("bash", ["lab/lab.sh", "up", String(n), "--recreate"], { cwd: REPO, stdio: ["ignore", "inherit", "inherit"] });
    return readLab(LAB_JSON);
}

export function removeLab(): void {
    execFileSync("bash", ["lab/lab.sh", "down"], { cwd: REPO, stdio: ["ignore", "inherit", "inherit"] });
}

/** Runs a shell command on a lab host over SSH (pinned host key); returns stdout, throws on failure. */
export function ssh(lab: Lab, host: LabHost, command: string, input?: string): string {
    const r = sshResult(lab, host, command, input);
    if (r.status !== 0) throw new Error(`ssh ${host.name} ${command}: exit ${r.status}: ${r.stderr}`);
    return r.stdout;
}

export function sshResult(lab: Lab, host: LabHost, command: string, input?: string) {
    const known = `${lab.privateKeyPath}.known-${host.name}`;
    fs.writeFileSync(known, `${host.address} ${host.hostKey}\n`);
    const r = spawnSync(
        "ssh",
        ["-i", lab.privateKeyPath, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", `UserKnownHostsFile=${known}`, "-o", "StrictHostKeyChecking=yes", `${host.sshUser}@${host.address}`, command],
        { encoding: "utf8", input: input ?? "", timeout: 120_000 },
    );
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The docker CLI against a host's daemon, from this machine (through the host's socket). */
export function docker(host: LabHost, args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync("docker", ["-H", `unix://${host.dockerSocket}`, ...args], { encoding: "utf8", timeout: 120_000 });
    return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr.trim() };
}

/**
 * GET PATH of a host's Engine API through its socket, parsed as JSON: what `docker info` shows,
 * whatever the version of the docker CLI on this machine (a 28.x client no longer shows
 * ClusterStore).
 */
export function engineApi(host: LabHost, apiPath: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
        const req = http.get({ socketPath: host.dockerSocket, path: apiPath, timeout: 30_000 }, (res) => {
            let body = "";
            res.on("data", (d: Buffer) => (body += d.toString("utf8")));
            res.on("end", () => {
                try {
                    resolve(JSON.parse(body));
                } catch (e) {
                    reject(new Error(`${host.name} GET ${apiPath}: HTTP ${res.statusCode}: ${body.slice(0, 200)} (${(e as Error).message})`));
                }
            });
        });
        req.on("timeout", () => req.destroy(new Error(`${host.name} GET ${apiPath}: no answer within 30 s`)));
        req.on("error", reject);
    });
}

/**
 * An HTTP GET with busybox wget that prints the status line to stderr. Debian's static busybox
 * wget crashes (SIGSEGV) with its own -T timeout option, so busybox `timeout` bounds it instead.
 */
export function httpGet(url: string, seconds = 5): string[] {
    // Under `sh` (and not its last command, or sh would exec it): PID 1 of a container ignores
    // the SIGTERM that busybox timeout sends, and then wget waits out TCP's 2-minute timeout.
    return ["sh", "-c", `timeout ${seconds} wget -S -O /dev/null '${url}'; exit $?`];
}

/**
 * Every host's /etc/docker/daemon.json as bytes (base64), or null where there is none, read
 * inside each host (not over ssh, which a fault scenario may have stopped).
 */
export function daemonJsons(lab: Lab): Record<string, string | null> {
    return Object.fromEntries(
        lab.hosts.map((h) => {
            const out = labExec(h.name, "sh", "-c", "if [ -e /etc/docker/daemon.json ]; then base64 -w0 /etc/docker/daemon.json; else echo ABSENT; fi").trim();
            return [h.name, out === "ABSENT" ? null : out];
        }),
    );
}

/** The lab stack, configured from Pulumi.lab.yaml plus `overrides`, in its own work dir. */
export function labStack(lab: Lab, stackName: string, overrides: Record<string, unknown> = {}): Promise<Stack> {
    const workDir = defaultWorkDir(stackName);
    fs.rmSync(workDir, { recursive: true, force: true });
    return openStack({
        stackName,
        workDir,
        config: labConfig(lab, overrides),
        privateKey: fs.readFileSync(lab.privateKeyPath, "utf8"),
        program: () => main(),
    });
}

/** Counts of each operation in an engine summary, without the "same" ones. */
export function changes(summary: Record<string, number> | undefined): Record<string, number> {
    return Object.fromEntries(Object.entries(summary ?? {}).filter(([op, n]) => op !== "same" && n > 0));
}

/** Output lines of the engine, collected for checks (e.g. that no secret was printed). */
/** The stack's state as `pulumi stack export` prints it (the CLI's own view, secrets encrypted). */
export function exportedState(stack: Stack, stackName: string): string {
    return execFileSync("pulumi", ["stack", "export", "--stack", stackName], {
        cwd: stack.workspace.workDir,
        env: { ...process.env, ...pulumiEnv(stack.workspace.workDir) },
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
    });
}

export function collector(): { lines: string[]; onOutput: (s: string) => void } {
    const lines: string[] = [];
    return { lines, onOutput: (s) => { lines.push(s); process.stdout.write(s); } };
}
