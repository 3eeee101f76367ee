// A Pulumi stack of this project run on the local lab through the Automation API, with the
// program inline (the same `main` the CLI runs through index.ts). Shared by the lab runner
// (scripts/lab.ts) and the end-to-end tests (test/e2e). Only erasable TypeScript here, so Node
// runs it directly.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
// The file, not the directory: Node runs this module as ESM, which does not resolve directories.
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation/index.js";
import { parse, stringify } from "yaml";

/** The project's root: commands run there (npm scripts and vitest both start in it). */
export const REPO = process.env.DOCKER_OVERLAY_REPO ?? process.cwd();
if (!fs.existsSync(path.join(REPO, "Pulumi.yaml"))) throw new Error(`${REPO} is not the project's root (no Pulumi.yaml): run this from the repository`);
export const LAB_STATE = "/var/lib/docker-overlay-lab";
export const LAB_JSON = path.join(LAB_STATE, "lab.json");
export const NS = "docker-overlay";

export interface LabHost {
    name: string;
    hostname: string;
    address: string;
    sshPort: number;
    sshUser: string;
    hostKey: string;
    dockerSocket: string;
}
export interface Lab {
    hosts: LabHost[];
    privateKeyPath: string;
    restartCommand: string[];
    images: { busybox: string; etcd: string; consul: string; zookeeper: string };
    publicKeyPath: string;
    /** A hash of the lab's dockerd, consul and image recipe (lab.sh recreates a lab made with others). */
    engine: string;
    /** The lab's dockerd: moby v20.10.24 built by the toolchain, with Consul's store. */
    dockerd: string;
    bridge: string;
    subnet: string;
}

export function readLab(file = LAB_JSON): Lab {
    if (!fs.existsSync(file)) throw new Error(`no lab is up (${file} is missing): run \`npm run lab\` or \`bash lab/lab.sh up\` as root`);
    return JSON.parse(fs.readFileSync(file, "utf8")) as Lab;
}

/** The non-secret config of a stack file, as objects (`docker-overlay:hosts` -> [...]). */
export function readStackFile(file: string): Record<string, unknown> {
    const doc = parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
    return { ...(doc.config ?? {}) };
}

/**
 * The lab stack's config: Pulumi.lab.yaml with the lab's hosts (and their pinned host keys) in
 * place of the template's, then `overrides` (keys without the namespace).
 */
export function labConfig(lab: Lab, overrides: Record<string, unknown> = {}): Record<string, unknown> {
    const config = readStackFile(path.join(REPO, "Pulumi.lab.yaml"));
    config[`${NS}:hosts`] = lab.hosts.map((h) => ({ name: h.name, address: h.address, sshPort: h.sshPort, sshUser: h.sshUser, hostKey: h.hostKey }));
    for (const [k, v] of Object.entries(overrides)) {
        if (v === undefined) delete config[`${NS}:${k}`];
        else config[`${NS}:${k}`] = v;
    }
    return config;
}

/** Environment for the CLI: local state next to the work dir, no downloads, no update checks. */
export function pulumiEnv(workDir: string): Record<string, string> {
    return {
        PULUMI_BACKEND_URL: `file://${path.join(workDir, "state")}`,
        // The lab's state holds only lab keys; a fixed passphrase keeps the runner non-interactive.
        PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "docker-overlay-lab",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    };
}

export interface OpenStackOptions {
    stackName: string;
    /** Where the stack file and the file backend live. */
    workDir: string;
    /** Non-secret config, as objects, keys with the namespace. */
    config: Record<string, unknown>;
    /** The SSH private key (stored as a secret). */
    privateKey: string;
    /** The Pulumi program (`main` from program.ts). */
    program: () => Promise<Record<string, unknown>> | Record<string, unknown>;
}

/** Creates or selects the stack in `workDir` with exactly `config` plus the secret key. */
export async function openStack(o: OpenStackOptions): Promise<Stack> {
    fs.mkdirSync(path.join(o.workDir, "state"), { recursive: true });
    // Without `main` (index.ts, the CLI's entry): the program runs inline, and the engine refuses
    // a project whose `main` is missing from the work dir ("project 'main' could not be read").
    const { main: _entry, ...project } = parse(fs.readFileSync(path.join(REPO, "Pulumi.yaml"), "utf8")) as { main?: string; name: string };
    const stack = await LocalWorkspace.createOrSelectStack(
        { stackName: o.stackName, projectName: project.name, program: async () => o.program() },
        {
            workDir: o.workDir,
            projectSettings: project,
            secretsProvider: "passphrase",
            envVars: pulumiEnv(o.workDir),
        },
    );
    // Write the non-secret config as YAML objects (as a person would in a stack file), keeping
    // the encryption salt the CLI wrote; then store the key through the CLI so it is encrypted.
    const stackFile = path.join(o.workDir, `Pulumi.${o.stackName}.yaml`);
    const current = fs.existsSync(stackFile) ? (parse(fs.readFileSync(stackFile, "utf8")) ?? {}) : {};
    fs.writeFileSync(stackFile, stringify({ ...current, config: o.config }));
    await stack.setConfig(`${NS}:sshPrivateKey`, { value: o.privateKey, secret: true });
    return stack;
}

export function defaultWorkDir(name: string): string {
    return path.join(process.env.DOCKER_OVERLAY_WORK ?? path.join(process.env.XDG_STATE_HOME || path.join(os.homedir(), ".local", "state"), "docker-overlay", "stacks"), name);
}

/**
 * The lab is one per machine: whatever uses it for minutes (a test file, the bench) holds this
 * lock for its whole run, and lab.sh up/down wait for it. Resolves once the lock is held; the
 * returned function releases it (so does the end of the process). `onWait` is told once when
 * another holder makes this wait.
 */
export const SESSION_LOCK = "/run/lock/docker-overlay-lab.session";
let releaseSession: (() => void) | undefined;
export async function holdLabSession(timeoutSeconds = 1800, onWait: (message: string) => void = console.log): Promise<() => void> {
    if (releaseSession) return releaseSession;
    fs.mkdirSync("/run/lock", { recursive: true });
    const p: ChildProcess = spawn("flock", ["-x", "-w", String(timeoutSeconds), SESSION_LOCK, "-c", "echo locked; exec cat"], { stdio: ["pipe", "pipe", "inherit"] });
    const waiting = setTimeout(() => onWait(`waiting for ${SESSION_LOCK}: another run is using the lab (this can take minutes)`), 2000);
    await new Promise<void>((resolve, reject) => {
        p.stdout!.once("data", () => resolve());
        p.once("exit", (code) => reject(new Error(`could not take ${SESSION_LOCK} (flock exited ${code})`)));
    }).finally(() => clearTimeout(waiting));
    // lab.sh run by this process must not wait for the lock this process holds.
    process.env.DOCKER_OVERLAY_LAB_SESSION = "held";
    releaseSession = () => {
        p.stdin?.end();
        delete process.env.DOCKER_OVERLAY_LAB_SESSION;
        releaseSession = undefined;
    };
    return releaseSession;
}

/** Runs `lab.sh exec HOST CMD...`: a command inside a lab host's namespaces, no ssh needed. */
export function labExec(host: string, ...command: string[]): string {
    const r = spawnSync("bash", [path.join(REPO, "lab", "lab.sh"), "exec", host, ...command], {
        encoding: "utf8",
        env: { ...process.env, DOCKER_OVERLAY_LAB_SESSION: "held" },
        maxBuffer: 64 * 1024 * 1024,
    });
    if (r.status !== 0) throw new Error(`lab.sh exec ${host} ${command.join(" ")}: exit ${r.status}: ${r.stderr}`);
    return r.stdout;
}

/**
 * The engine's output as a person should read it. Pulumi warns "using pulumi-resource-docker from
 * $PATH at ..." for every plugin it takes from PATH, which is exactly how it finds the plugins
 * the toolchain built here (toolchain/env.sh): four lines of noise on every run. Those lines are
 * dropped, and only for binaries in `toolchainBin`: a plugin found anywhere else still warns.
 * The engine prints each one twice: as a progress line of the stack (" +  pulumi:pulumi:Stack
 * name create warning: using ...") and under Diagnostics, indented; both go (its count of
 * warnings on the stack's last progress line stays as the engine wrote it).
 * Everything else is written as it comes, a whole line at a time; `flush` writes what is left.
 */
export function engineOutput(write: (s: string) => void, toolchainBin: string | undefined): { onOutput: (chunk: string) => void; flush: () => void } {
    const ansi = new RegExp(String.raw`\x1b\[[0-9;]*m`, "g");
    const ours = (line: string): boolean => {
        if (!toolchainBin) return false;
        const m = /(?:^|\s)warning: using (pulumi-(?:resource|language|analyzer|converter)-[\w.-]+) from \$PATH at (\S+)( expected \S+)?\s*$/.exec(line.replace(ansi, ""));
        return m !== null && path.dirname(m[2]!) === path.resolve(toolchainBin) && path.basename(m[2]!) === m[1];
    };
    let pending = "";
    return {
        onOutput(chunk: string) {
            pending += chunk;
            const lines = pending.split("\n");
            pending = lines.pop()!;
            const kept = lines.filter((l) => !ours(l));
            if (kept.length > 0) write(kept.join("\n") + "\n");
        },
        flush() {
            if (pending !== "" && !ours(pending)) write(pending);
            pending = "";
        },
    };
}
