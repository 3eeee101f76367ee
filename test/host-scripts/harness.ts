/**
 * Runs the real host scripts with bash against throwaway directories: DOCKER_CONFIG_DIR and
 * STATE_DIR stand in for /etc/docker and /var/lib/docker-overlay, and the fake docker CLI and
 * restart command in test/fixtures/fake-docker stand in for the daemon. No real Docker is used.
 */
import { execFile, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { renderScript, scriptBundle, scriptCommand, scriptPath, type ScriptName, type ScriptVars } from "../../components/hostScripts";

export const FIXTURES = path.join(__dirname, "..", "fixtures", "fake-docker");
export const FAKE_DOCKER = path.join(FIXTURES, "docker");
export const FAKE_RESTART = path.join(FIXTURES, "restart");
export const FAKE_LOG = path.join(FIXTURES, "daemon-log");

export interface RunResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** One fake host: its config dir, state dir and fake daemon state. */
export class FakeHost {
    readonly root: string;
    readonly configDir: string;
    readonly stateDir: string;
    readonly fakeState: string;
    engineVersion = "20.10.24";
    client: "28" | "20.10" = "28";
    noDialStdio = false;

    constructor() {
        this.root = fs.mkdtempSync(path.join(os.tmpdir(), "docker-overlay-test-"));
        this.configDir = path.join(this.root, "etc-docker");
        this.stateDir = path.join(this.root, "var-lib-docker-overlay");
        this.fakeState = path.join(this.root, "fake-daemon");
        fs.mkdirSync(this.configDir);
        fs.mkdirSync(path.join(this.fakeState, "containers"), { recursive: true });
        fs.writeFileSync(path.join(this.fakeState, "running"), "");
        fs.writeFileSync(path.join(this.fakeState, "cluster-store"), "");
    }

    /** The lock every docker-overlay script on the host takes (lib/owner.sh). */
    get lockFile(): string {
        return path.join(this.root, "docker-overlay.lock");
    }

    get daemonJson(): string {
        return path.join(this.configDir, "daemon.json");
    }

    /** Set or remove (undefined) a fake daemon state file. */
    setState(name: string, content: string | undefined): void {
        const file = path.join(this.fakeState, name);
        if (content === undefined) fs.rmSync(file, { force: true });
        else fs.writeFileSync(file, content);
    }

    state(name: string): string | undefined {
        const file = path.join(this.fakeState, name);
        return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
    }

    get running(): boolean {
        return fs.existsSync(path.join(this.fakeState, "running"));
    }

    get restarts(): number {
        return (this.state("restarts.log") ?? "").split("\n").filter((l) => l !== "").length;
    }

    /** The environment of the fake daemon and CLI (not the script's own variables). */
    fakeEnv(): NodeJS.ProcessEnv {
        return {
            PATH: `${path.dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
            HOME: this.root,
            LANG: "C.UTF-8",
            FAKE_DOCKER_STATE: this.fakeState,
            FAKE_DOCKER_CONFIG_DIR: this.configDir,
            FAKE_ENGINE_VERSION: this.engineVersion,
            FAKE_CLIENT: this.client,
            FAKE_NO_DIAL_STDIO: this.noDialStdio ? "1" : "",
            FAKE_NODE: process.execPath,
        };
    }

    /** Variables every test passes: the fake CLI and the throwaway directories. */
    commonVars(): Record<string, string> {
        return { DOCKER: FAKE_DOCKER, DOCKER_CONFIG_DIR: this.configDir, STATE_DIR: this.stateDir, LOCK_FILE: this.lockFile, HOST_LABEL: "lab1" };
    }

    cleanup(): void {
        fs.rmSync(this.root, { recursive: true, force: true });
    }
}

/**
 * The streams of each script that the components hand to the engine's log (`logging` of its
 * remote.Command). pulumi-command reads them a line at a time with a 64 KiB limit and stalls on a
 * longer line, so every run here fails a script that writes a line over LOGGED_LINE_LIMIT to one.
 */
export const LOGGED_STREAMS: Readonly<Record<ScriptName, readonly ("stdout" | "stderr")[]>> = {
    "host-facts": ["stderr"],
    "kv-wait": ["stderr"],
    "daemon-config-backup": ["stderr"],
    "daemon-config-apply": ["stdout", "stderr"],
    "daemon-config-restore": ["stdout", "stderr"],
    "daemon-env": ["stderr"],
    firewall: ["stderr"],
    "swarm-init": ["stderr"],
    "swarm-tokens": [],
    "swarm-join": ["stderr"],
    "swarm-leave": ["stderr"],
    "swarm-prune": ["stderr"],
    "connectivity-check": ["stderr"],
    "overlay-rejoin": ["stdout", "stderr"],
};
export const LOGGED_LINE_LIMIT = 8 * 1024;

function checkLoggedLines(name: ScriptName, r: RunResult): RunResult {
    for (const stream of LOGGED_STREAMS[name]) {
        const long = r[stream].split("\n").find((l) => l.length > LOGGED_LINE_LIMIT);
        if (long !== undefined) {
            throw new Error(`${name} wrote a line of ${long.length} characters to ${stream}, which the engine's log reads (limit ${LOGGED_LINE_LIMIT}): ${long.slice(0, 120)}...`);
        }
    }
    return r;
}

function exec(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number, input?: string): Promise<RunResult> {
    if (input !== undefined) {
        return new Promise((resolve) => {
            const child = spawn(file, args, { env });
            let stdout = "";
            let stderr = "";
            const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
            child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
            child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
            child.stdin.on("error", () => undefined);
            child.stdin.end(input);
            child.on("close", (code) => {
                clearTimeout(timer);
                resolve({ code: code ?? -1, stdout, stderr });
            });
        });
    }
    return new Promise((resolve) => {
        execFile(file, args, { env, timeout: timeoutMs, encoding: "utf8", maxBuffer: 10 * 1024 * 1024 }, (error, stdout, stderr) => {
            const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
            resolve({ code, stdout, stderr });
        });
    });
}

/**
 * Run a script standalone, its variables in the environment (arrays as space-separated strings,
 * as documented for standalone use). Asynchronous, so a test server in this process can answer.
 */
export async function runStandalone(name: ScriptName, vars: Record<string, string>, env: NodeJS.ProcessEnv, timeoutMs = 20_000): Promise<RunResult> {
    return checkLoggedLines(name, await exec("bash", [scriptPath(name)], { ...env, ...vars }, timeoutMs));
}

/** Run a script the way the component does: renderScript, on stdin to scriptCommand through `sh -c`. */
export async function runRendered(name: ScriptName, vars: ScriptVars, env: NodeJS.ProcessEnv, timeoutMs = 20_000): Promise<RunResult> {
    return checkLoggedLines(name, await exec("sh", ["-c", scriptCommand("create", name)], env, timeoutMs, scriptBundle({ create: renderScript(name, vars) })));
}
