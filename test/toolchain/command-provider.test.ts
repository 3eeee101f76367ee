// Upstream pulumi-resource-command 1.2.1 (built by toolchain/build-upstream.sh), run for real
// through the Automation API with inline programs, against an sshd this file starts on
// 127.0.0.1: what the stack relies on (its script-on-stdin commands, host key pinning, secret
// outputs), and the sharp edges of upstream that the stack works around, shown as they are:
//   - a failed command's error quotes the command line and its whole output, even with
//     logging "none": so no script and no secret is ever in a command line (they travel on
//     stdin, which no error quotes), and host scripts scrub what they print;
//   - customTimeouts are not enforced: host scripts bound their own waits (`timeout`);
//   - a pinned RSA host key is offered only as SHA-1 `ssh-rsa`, which OpenSSH 8.8+ refuses: the
//     stack's config refuses RSA host keys;
//   - the previous stdout is sent as environment variables unless addPreviousOutputInEnv is off.
// Local file backend, plugin downloads off, the toolchain's bin dir first on PATH.
//
// Run as root (sshd), after the toolchain is installed:
//   npx vitest run test/toolchain/command-provider.test.ts
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as command from "@pulumi/command";
import { scriptBundle, scriptCommand } from "../../components/hostScripts";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, type EngineEvent, type Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./ports";

const REPO = path.join(__dirname, "..", "..");
const PKG = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
};
const COMMAND_VERSION = PKG.dependencies["@pulumi/command"]!;

/** The toolchain's bin dir: DOCKER_OVERLAY_TOOLCHAIN_BIN (env.sh) or what toolchain/lib.sh says. */
function toolchainBin(): string {
    if (process.env.DOCKER_OVERLAY_TOOLCHAIN_BIN) {
        return process.env.DOCKER_OVERLAY_TOOLCHAIN_BIN;
    }
    return execFileSync("bash", ["-c", 'source toolchain/lib.sh && tc_load_pins && tc_paths && printf %s "$TC_BIN"'], {
        cwd: REPO,
        encoding: "utf8",
    });
}

const BIN = toolchainBin();
let tmp = "";
let env: Record<string, string> = {};
let sshd: Sshd | undefined;
const stacks: Stack[] = [];


async function canConnect(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const s = net.connect(port, "127.0.0.1");
        s.once("connect", () => {
            s.destroy();
            resolve(true);
        });
        s.once("error", () => resolve(false));
    });
}

function keygen(file: string, passphrase = "", type = "ed25519"): { priv: string; pub: string } {
    execFileSync("ssh-keygen", ["-q", "-t", type, "-N", passphrase, "-C", "", "-f", file]);
    return { priv: fs.readFileSync(file, "utf8"), pub: fs.readFileSync(`${file}.pub`, "utf8").trim() };
}

interface Sshd {
    port: number;
    hostKey: string; // authorized_keys format
    proc: ChildProcess;
    log: () => string;
    stop: () => Promise<void>;
}

/** Starts `sshd -D` on 127.0.0.1 with its own config, host key (ed25519, or HOSTKEYTYPE) and authorized_keys. */
async function startSshd(dir: string, authorizedKeys: string[], hostKeyType = "ed25519"): Promise<Sshd> {
    fs.mkdirSync(dir, { recursive: true });
    const host = keygen(path.join(dir, "host_ed25519"), "", hostKeyType);
    fs.writeFileSync(path.join(dir, "authorized_keys"), authorizedKeys.join("\n") + "\n", { mode: 0o600 });
    const port = await freePort();
    const config = [
        "ListenAddress 127.0.0.1",
        `HostKey ${dir}/host_ed25519`,
        `PidFile ${dir}/sshd.pid`,
        `AuthorizedKeysFile ${dir}/authorized_keys`,
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "StrictModes no",
        "UsePAM no",
        // As a stock sshd: no AcceptEnv, so environment a client sends is refused.
        "LogLevel VERBOSE",
    ].join("\n");
    fs.writeFileSync(path.join(dir, "sshd_config"), config + "\n");
    fs.mkdirSync("/run/sshd", { recursive: true }); // sshd's privilege separation directory
    let log = "";
    const proc = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", path.join(dir, "sshd_config"), "-p", String(port)], {
        stdio: ["ignore", "pipe", "pipe"],
    });
    proc.stdout!.on("data", (d) => (log += d));
    proc.stderr!.on("data", (d) => (log += d));
    const deadline = Date.now() + 10_000;
    while (!(await canConnect(port))) {
        if (proc.exitCode !== null || Date.now() > deadline) {
            proc.kill();
            throw new Error(`sshd did not start on 127.0.0.1:${port}:\n${log}`);
        }
        await new Promise((r) => setTimeout(r, 100));
    }
    return {
        port,
        hostKey: host.pub,
        proc,
        log: () => log,
        stop: () =>
            new Promise<void>((resolve) => {
                if (proc.exitCode !== null || proc.signalCode !== null) {
                    resolve();
                    return;
                }
                proc.once("exit", () => resolve());
                proc.kill("SIGTERM");
            }),
    };
}

interface Run {
    ok: boolean;
    outputs: Record<string, { value: unknown; secret: boolean }>;
    /** What the engine showed: the CLI's output, the diagnostics (debug ones left out: they are the
     * Node.js SDK's own RPC traces, with resource outputs in them) and the error message. */
    text: string;
    error: string;
    events: EngineEvent[];
}

/** A stack of an inline program on the test's file backend (same name => same stack). */
async function stackOf(name: string, program: () => Promise<Record<string, unknown> | void>): Promise<Stack> {
    const stack = await LocalWorkspace.createOrSelectStack(
        { stackName: name, projectName: `cmdprov-${name}`, program },
        { workDir: path.join(tmp, "work", name), envVars: env, pulumiHome: env.PULUMI_HOME },
    );
    if (!stacks.includes(stack)) {
        stacks.push(stack);
    }
    return stack;
}

function shown(out: string[], events: EngineEvent[], error: string): string {
    const diagnostics = events
        .flatMap((e) => (e.diagnosticEvent && (e.diagnosticEvent.severity as string) !== "debug" ? [e.diagnosticEvent.message] : []))
        .join("\n");
    return [out.join(""), diagnostics, error].join("\n");
}

function collect(): { events: EngineEvent[]; out: string[]; opts: Record<string, unknown> } {
    const events: EngineEvent[] = [];
    const out: string[] = [];
    return { events, out, opts: { color: "never", onEvent: (e: EngineEvent) => events.push(e), onOutput: (s: string) => out.push(s) } };
}

async function up(name: string, program: () => Promise<Record<string, unknown> | void>): Promise<Run> {
    fs.mkdirSync(path.join(tmp, "work", name), { recursive: true });
    const stack = await stackOf(name, program);
    const c = collect();
    try {
        const r = await stack.up(c.opts);
        return { ok: true, outputs: r.outputs, events: c.events, error: "", text: shown(c.out, c.events, "") };
    } catch (e) {
        const error = String((e as Error).message ?? e);
        return { ok: false, outputs: {}, events: c.events, error, text: shown(c.out, c.events, error) };
    }
}

async function destroy(name: string, program: () => Promise<Record<string, unknown> | void> = async () => {}): Promise<Run> {
    const stack = await stackOf(name, program);
    const c = collect();
    try {
        await stack.destroy(c.opts);
        return { ok: true, outputs: {}, events: c.events, error: "", text: shown(c.out, c.events, "") };
    } catch (e) {
        const error = String((e as Error).message ?? e);
        return { ok: false, outputs: {}, events: c.events, error, text: shown(c.out, c.events, error) };
    }
}

/** The operations the engine did on resources of TYPE, in order ("create", "update", ...). */
function ops(run: Run, type: string): string[] {
    return run.events
        .flatMap((e) => (e.resOutputsEvent ? [e.resOutputsEvent.metadata] : []))
        .filter((m) => m.type === type)
        .map((m) => String(m.op));
}

function read(file: string): string {
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "<absent>";
}

beforeAll(async () => {
    const missing = ["pulumi", "pulumi-resource-command"].filter((b) => !fs.existsSync(path.join(BIN, b)));
    if (missing.length > 0) {
        throw new Error(`not in the toolchain bin dir ${BIN}: ${missing.join(", ")}; run \`npm run toolchain\``);
    }
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dotc-cmdprov-"));
    const state = path.join(tmp, "state");
    fs.mkdirSync(state);
    fs.mkdirSync(path.join(tmp, "pulumi-home"));
    env = {
        PULUMI_BACKEND_URL: `file://${state}`,
        PULUMI_CONFIG_PASSPHRASE: "command-provider-test",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_HOME: path.join(tmp, "pulumi-home"),
        PATH: `${BIN}:${process.env.PATH ?? ""}`,
    };
    // The inline program's engine is started by the Automation API with this process's PATH.
    process.env.PATH = env.PATH;
    process.env.PULUMI_BACKEND_URL = env.PULUMI_BACKEND_URL;
    process.env.PULUMI_CONFIG_PASSPHRASE = env.PULUMI_CONFIG_PASSPHRASE;
}, 60_000);

afterAll(async () => {
    for (const s of stacks) {
        await s.workspace.removeStack(s.name, { force: true }).catch(() => undefined);
    }
    await sshd?.stop();
    if (tmp) {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}, 120_000);

describe("command:remote:Command (upstream 1.2.1) over SSH, as the stack uses it", () => {
    let client: { priv: string; pub: string };
    let conn: (extra?: Partial<command.types.input.remote.ConnectionArgs>) => command.types.input.remote.ConnectionArgs;

    beforeAll(async () => {
        client = keygen(path.join(tmp, "client_ed25519"));
        sshd = await startSshd(path.join(tmp, "sshd"), [client.pub]);
        conn = (extra = {}) => ({ host: "127.0.0.1", port: sshd!.port, user: "root", privateKey: client.priv, perDialTimeout: 5, ...extra });
    }, 60_000);

    it("runs the stack's script-on-stdin commands: create, create again on a changed stdin, delete with the stdin of the last run", async () => {
        const dir = path.join(tmp, "remote-scripts");
        fs.mkdirSync(dir);
        const log = path.join(dir, "log");
        const program = (v: string) => async () => {
            const c = new command.remote.Command("scripts", {
                connection: conn({ hostKey: sshd!.hostKey }),
                create: scriptCommand("create", "test-create"),
                delete: scriptCommand("delete", "test-delete"),
                stdin: scriptBundle({ create: `echo "create ${v} as $0" >> ${log}; echo out-${v}\n`, delete: `echo "delete ${v}" >> ${log}\n` }),
                logging: "stderr",
                addPreviousOutputInEnv: false,
            });
            return { stdout: c.stdout };
        };
        let r = await up("remote-scripts", program("1"));
        expect(r.error).toBe("");
        expect(r.outputs.stdout?.value).toBe("out-1");
        expect(read(log)).toBe("create 1 as docker-overlay-test-create\n");
        r = await up("remote-scripts", program("1"));
        expect(ops(r, "command:remote:Command")).toEqual(["same"]);
        r = await up("remote-scripts", program("2"));
        expect(ops(r, "command:remote:Command")).toEqual(["update"]);
        expect(r.outputs.stdout?.value).toBe("out-2");
        r = await destroy("remote-scripts");
        expect(r.error).toBe("");
        expect(read(log)).toBe("create 1 as docker-overlay-test-create\ncreate 2 as docker-overlay-test-create\ndelete 2\n");
        // Nothing of the scripts is in a command line.
        expect([scriptCommand("create", "test-create"), scriptCommand("delete", "test-delete")].join(" ")).not.toContain(log);
    }, 180_000);

    it("a failed command's error quotes the command line and its whole output, never its stdin: a secret on stdin stays out of it and out of the state", async () => {
        const token = `SWMTKN-1-${process.pid}${Date.now()}-secret`;
        const r = await up("remote-fail-stdin", async () => {
            new command.remote.Command("fail", {
                connection: conn(),
                create: scriptCommand("create", "join"),
                // The script holds the secret and prints only a scrubbed message, as swarm-join.sh does.
                stdin: pulumi.secret(scriptBundle({ create: `TOKEN='${token}'\necho "joining failed: [join token hidden]" >&2\nexit 3\n` })),
                logging: "stderr",
                addPreviousOutputInEnv: false,
            });
        });
        expect(r.ok).toBe(false);
        expect(r.error).toContain(`Process exited with status 3: running "${scriptCommand("create", "join").replace(/"/g, '\\"')}"`);
        expect(r.error).toContain("joining failed: [join token hidden]");
        expect(r.text).not.toContain(token);
        expect(r.text).not.toContain(token.slice(9, 30));
    }, 120_000);

    it("(upstream) quotes a failed command's text in full, and its whole output even with logging \"none\": why nothing secret is ever in either", async () => {
        const marker = `visible-${process.pid}-${Date.now()}`;
        const r = await up("remote-fail-text", async () => {
            new command.remote.Command("failtext", {
                connection: conn(),
                create: `echo ${marker}-out; echo ${marker}-err >&2; exit 7`,
                logging: "none",
            });
        });
        expect(r.ok).toBe(false);
        expect(r.error).toContain(`Process exited with status 7: running "echo ${marker}-out; echo ${marker}-err >&2; exit 7"`);
        expect(r.error).toContain(`${marker}-out`);
        expect(r.error).toContain(`${marker}-err`);
    }, 120_000);

    it("(upstream) does not enforce customTimeouts: a command that takes 8 s with a 2 s create timeout succeeds after 8 s, so host scripts bound their own waits", async () => {
        const started = Date.now();
        const r = await up("remote-timeout", async () => {
            new command.remote.Command("slow", { connection: conn(), create: "sleep 8; echo done", addPreviousOutputInEnv: false }, { customTimeouts: { create: "2s" } });
        });
        expect(r.error).toBe("");
        expect(Date.now() - started).toBeGreaterThanOrEqual(8000);
    }, 120_000);

    it("(upstream) sends the previous stdout as environment on an update unless addPreviousOutputInEnv is off: a stock sshd refuses it with a warning each time", async () => {
        const program = (v: string, addPrevious: boolean) => async () => {
            new command.remote.Command("env", { connection: conn(), create: `echo run-${v}`, addPreviousOutputInEnv: addPrevious });
        };
        await up("remote-env-on", program("1", true));
        const on = await up("remote-env-on", program("2", true));
        expect(on.error).toBe("");
        expect(on.text).toContain("Unable to set 'PULUMI_COMMAND_STDOUT'");
        await up("remote-env-off", program("1", false));
        const off = await up("remote-env-off", program("2", false));
        expect(off.error).toBe("");
        expect(off.text).not.toContain("PULUMI_COMMAND_STDOUT");
    }, 180_000);

    it("refuses a host that presents another key than the pinned hostKey, and runs nothing there", async () => {
        const other = keygen(path.join(tmp, "other_host_key"));
        const marker = path.join(tmp, "hostkey-marker");
        const r = await up("remote-hostkey", async () => {
            new command.remote.Command("pinned", { connection: conn({ hostKey: other.pub, dialErrorLimit: 1 }), create: `touch ${marker}` });
        });
        expect(r.ok).toBe(false);
        expect(r.error).toMatch(/ssh: handshake failed: ssh: host key mismatch/);
        expect(fs.existsSync(marker)).toBe(false);
    }, 120_000);

    it("(upstream) cannot connect to a current OpenSSH with a pinned RSA host key (it offers only SHA-1 ssh-rsa): why the stack's config refuses RSA host keys", async () => {
        const rsaSshd = await startSshd(path.join(tmp, "sshd-rsa"), [client.pub], "rsa");
        try {
            expect(rsaSshd.hostKey).toMatch(/^ssh-rsa /);
            const pinned = await up("remote-rsa", async () => {
                new command.remote.Command("rsa", {
                    connection: { host: "127.0.0.1", port: rsaSshd.port, privateKey: client.priv, hostKey: rsaSshd.hostKey, dialErrorLimit: 1, perDialTimeout: 5 },
                    create: "echo reached",
                });
            });
            expect(pinned.ok).toBe(false);
            expect(pinned.error).toMatch(/no common algorithm for host key/);
            // The same server, not pinned: reachable (so the failure is the pinned key's algorithm).
            const unpinned = await up("remote-rsa-unpinned", async () => {
                const c = new command.remote.Command("rsa", {
                    connection: { host: "127.0.0.1", port: rsaSshd.port, privateKey: client.priv, dialErrorLimit: 1, perDialTimeout: 5 },
                    create: "echo reached",
                });
                return { stdout: c.stdout };
            });
            expect(unpinned.error).toBe("");
            expect(unpinned.outputs.stdout?.value).toBe("reached");
        } finally {
            await rsaSshd.stop();
        }
    }, 180_000);

    it("a stdout in additionalSecretOutputs and a secret stdin are stored encrypted", async () => {
        const value = `secret-stdout-${process.pid}-${Date.now()}`;
        const r = await up("remote-secret", async () => {
            const c = new command.remote.Command(
                "secret",
                { connection: conn(), create: "cat", stdin: pulumi.secret(value), logging: "none", addPreviousOutputInEnv: false },
                { additionalSecretOutputs: ["stdout"] },
            );
            return { stdout: c.stdout };
        });
        expect(r.error).toBe("");
        expect(r.outputs.stdout?.secret).toBe(true);
        expect(r.outputs.stdout?.value).toBe(value);
        // `pulumi stack export` (without --show-secrets, which the Automation API's exportStack adds).
        const exported = execFileSync(path.join(BIN, "pulumi"), ["stack", "export", "--stack", "remote-secret"], {
            cwd: path.join(tmp, "work", "remote-secret"),
            encoding: "utf8",
            env: { ...process.env, ...env },
        });
        const resource = (JSON.parse(exported) as { deployment: { resources: { type: string; outputs: Record<string, unknown> }[] } })
            .deployment.resources.find((r) => r.type === "command:remote:Command");
        expect(JSON.stringify(resource?.outputs.stdout)).toContain("ciphertext");
        expect(JSON.stringify(resource?.outputs.stdin)).toContain("ciphertext");
        expect(exported).not.toContain(value);
        // The connection (with the private key) is a secret too.
        expect(JSON.stringify(resource?.outputs.connection)).toContain("ciphertext");
        expect(exported).not.toContain(client.priv.split("\n")[1]!);
    }, 120_000);

    it("retries dialing a closed port dialErrorLimit times, then fails naming the address", async () => {
        const closed = await freePort();
        const started = Date.now();
        const r = await up("remote-closed", async () => {
            new command.remote.Command("closed", { connection: conn({ port: closed, dialErrorLimit: 2, perDialTimeout: 2 }), create: "true" });
        });
        expect(r.ok).toBe(false);
        expect(r.error).toContain(`dial tcp 127.0.0.1:${closed}: connect: connection refused`);
        expect(r.error).toMatch(/after \d+ failed attempts/);
        expect(Date.now() - started).toBeLessThan(60_000);
    }, 120_000);
});

describe("plugin", () => {
    it("is upstream's module, stamped 1.2.1, and serves a schema of that version with both Command types", () => {
        const m = spawnSync("go", ["version", "-m", path.join(BIN, "pulumi-resource-command")], { encoding: "utf8" });
        expect(m.stdout).toMatch(/\tmod\tgithub\.com\/pulumi\/pulumi-command\/provider\t/);
        expect(m.stdout).toContain(`-X github.com/pulumi/pulumi-command/provider/pkg/version.Version=${COMMAND_VERSION}`);
        // By path: by name, get-schema would try to download the plugin.
        const out = execFileSync(path.join(BIN, "pulumi"), ["package", "get-schema", path.join(BIN, "pulumi-resource-command")], {
            encoding: "utf8",
            env: { ...process.env, ...env },
        });
        const schema = JSON.parse(out) as { name: string; version: string; resources: Record<string, unknown> };
        expect(schema.name).toBe("command");
        expect(schema.version).toBe(COMMAND_VERSION);
        expect(Object.keys(schema.resources).sort()).toEqual(expect.arrayContaining(["command:local:Command", "command:remote:Command"]));
    }, 60_000);
});
