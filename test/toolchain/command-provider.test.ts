// Real Pulumi runs of docker-overlay's own pulumi-resource-command (toolchain/go/command,
// docs/command-provider.md) through the Automation API, with inline programs that use
// @pulumi/command 1.2.1 exactly as the project does.
// - local.Command: create/update/delete/triggers, proven by files the commands write;
// - remote.Command: against an sshd this file starts on 127.0.0.1 (own host key, own client
//   key, key-only login, AcceptEnv *), plus a closed port for the dial retry.
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
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, type EngineEvent, type Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

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

async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const port = (srv.address() as net.AddressInfo).port;
            srv.close(() => resolve(port));
        });
    });
}

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

function keygen(file: string, passphrase = ""): { priv: string; pub: string } {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-C", "", "-f", file]);
    return { priv: fs.readFileSync(file, "utf8"), pub: fs.readFileSync(`${file}.pub`, "utf8").trim() };
}

interface Sshd {
    port: number;
    hostKey: string; // authorized_keys format
    proc: ChildProcess;
    log: () => string;
    stop: () => Promise<void>;
}

/** Starts `sshd -D` on 127.0.0.1 with its own config, host key and authorized_keys. */
async function startSshd(dir: string, authorizedKeys: string[]): Promise<Sshd> {
    fs.mkdirSync(dir, { recursive: true });
    const host = keygen(path.join(dir, "host_ed25519"));
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
        "AcceptEnv *",
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

/** The provider's log lines of a run (info diagnostics, ephemeral as upstream's). */
function logged(run: Run): string {
    return run.events
        .flatMap((e) => (e.diagnosticEvent?.severity === "info" ? [e.diagnosticEvent.message] : []))
        .join("");
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
    const version = spawnSync(path.join(BIN, "pulumi-resource-command"), ["-version"], { encoding: "utf8" });
    expect(version.stdout.trim()).toBe(COMMAND_VERSION);
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

describe("command:local:Command", () => {
    it("runs create once, update on a change (with the previous stdout), delete on destroy", async () => {
        const dir = path.join(tmp, "local-cud");
        fs.mkdirSync(dir);
        const log = path.join(dir, "log");
        const program = (v: string) => async () => {
            const c = new command.local.Command("cud", {
                dir,
                create: `echo create-$V >> log; echo out-$V`,
                update: `echo "update-$V prev=$PULUMI_COMMAND_STDOUT" >> log; echo out-$V`,
                delete: `echo "delete prev=$PULUMI_COMMAND_STDOUT" >> log`,
                environment: { V: v },
            });
            return { stdout: c.stdout, stderr: c.stderr };
        };
        let r = await up("local-cud", program("1"));
        expect(r.error).toBe("");
        expect(r.outputs.stdout?.value).toBe("out-1"); // trailing newline trimmed
        expect(read(log)).toBe("create-1\n");
        r = await up("local-cud", program("1"));
        expect(read(log)).toBe("create-1\n"); // unchanged inputs: nothing runs
        expect(ops(r, "command:local:Command")).toEqual(["same"]);
        // A preview of the change runs nothing and shows stdout as unknown; a refresh changes nothing.
        const stack = await stackOf("local-cud", program("2"));
        const pv = await stack.preview({ color: "never" });
        expect(pv.changeSummary.update).toBe(1);
        expect(read(log)).toBe("create-1\n");
        const rf = await stack.refresh({ color: "never" });
        expect(rf.summary.resourceChanges?.update ?? 0).toBe(0);
        expect(read(log)).toBe("create-1\n");
        r = await up("local-cud", program("2"));
        expect(ops(r, "command:local:Command")).toEqual(["update"]);
        expect(r.outputs.stdout?.value).toBe("out-2");
        expect(read(log)).toBe("create-1\nupdate-2 prev=out-1\n");
        r = await destroy("local-cud");
        expect(r.error).toBe("");
        expect(read(log)).toBe("create-1\nupdate-2 prev=out-1\ndelete prev=out-2\n");
    }, 120_000);

    it("without an update command, a change runs create again in place (as upstream), no delete", async () => {
        const dir = path.join(tmp, "local-noupdate");
        fs.mkdirSync(dir);
        const program = (v: string) => async () => {
            new command.local.Command("noupdate", { dir, create: `echo create-${v} >> log`, delete: "echo delete >> log" });
        };
        await up("local-noupdate", program("1"));
        const r = await up("local-noupdate", program("2"));
        expect(ops(r, "command:local:Command")).toEqual(["update"]);
        expect(read(path.join(dir, "log"))).toBe("create-1\ncreate-2\n");
        await destroy("local-noupdate");
        expect(read(path.join(dir, "log"))).toBe("create-1\ncreate-2\ndelete\n");
    }, 120_000);

    it("a change of triggers replaces: create of the new one, then delete of the old one (deleteBeforeReplace: the other way round)", async () => {
        const dir = path.join(tmp, "local-triggers");
        fs.mkdirSync(dir);
        const log = path.join(dir, "log");
        const program = (t: string, dbr = false) => async () => {
            new command.local.Command(
                "trig",
                { dir, create: "echo create-$T >> log", update: "echo update-$T >> log", delete: "echo delete-$T >> log", environment: { T: t }, triggers: [t] },
                { deleteBeforeReplace: dbr },
            );
        };
        await up("local-triggers", program("a"));
        expect(read(log)).toBe("create-a\n");
        let r = await up("local-triggers", program("b"));
        expect(r.error).toBe("");
        // The engine's default replacement order; the delete runs with the old resource's inputs.
        expect(read(log)).toBe("create-a\ncreate-b\ndelete-a\n");
        expect(ops(r, "command:local:Command")).toContain("replace");
        r = await up("local-triggers", program("c", true));
        expect(read(log)).toBe("create-a\ncreate-b\ndelete-a\ndelete-b\ncreate-c\n");
        await destroy("local-triggers");
        expect(read(log)).toBe("create-a\ncreate-b\ndelete-a\ndelete-b\ncreate-c\ndelete-c\n");
    }, 120_000);

    it("a failing command fails the update with its exit status and output", async () => {
        const r = await up("local-fail", async () => {
            new command.local.Command("fail", { create: "echo about-to-fail; echo local-oops >&2; exit 3" });
        });
        expect(r.ok).toBe(false);
        expect(r.error).toMatch(/exit status 3: running "echo about-to-fail; echo local-oops >&2; exit 3":/);
        expect(r.error).toContain("local-oops");
        expect(r.error).toContain("about-to-fail");
    }, 120_000);

    it("local.runOutput runs its command on every run", async () => {
        const dir = path.join(tmp, "local-run");
        fs.mkdirSync(dir);
        const program = async () => {
            const r = command.local.runOutput({ command: "echo ran >> log; echo run-out", dir });
            return { stdout: r.stdout };
        };
        let r = await up("local-run", program);
        expect(r.error).toBe("");
        expect(r.outputs.stdout?.value).toBe("run-out");
        r = await up("local-run", program);
        expect(r.outputs.stdout?.value).toBe("run-out");
        // Once per up (the Automation API runs up with --skip-preview).
        expect(read(path.join(dir, "log"))).toBe("ran\nran\n");
    }, 120_000);

    it("refuses assetPaths clearly", async () => {
        const r = await up("local-assets", async () => {
            new command.local.Command("assets", { create: "true", assetPaths: ["*.txt"] });
        });
        expect(r.ok).toBe(false);
        expect(r.error).toMatch(/assetPaths.*not supported by docker-overlay's command provider/);
    }, 120_000);
});

describe("command:remote:Command over SSH", () => {
    let client: { priv: string; pub: string };
    let encrypted: { priv: string; pub: string };
    let conn: (extra?: Partial<command.types.input.remote.ConnectionArgs>) => command.types.input.remote.ConnectionArgs;

    beforeAll(async () => {
        client = keygen(path.join(tmp, "client_ed25519"));
        encrypted = keygen(path.join(tmp, "client_enc_ed25519"), "key-passphrase");
        sshd = await startSshd(path.join(tmp, "sshd"), [client.pub, encrypted.pub]);
        conn = (extra = {}) => ({ host: "127.0.0.1", port: sshd!.port, user: "root", privateKey: client.priv, perDialTimeout: 5, ...extra });
    }, 60_000);

    it("create with stdin and environment, update, delete, with host key pinning", async () => {
        const dir = path.join(tmp, "remote-cud");
        fs.mkdirSync(dir);
        const file = path.join(dir, "file");
        const program = (content: string) => async () => {
            const c = new command.remote.Command("cud", {
                connection: conn({ hostKey: sshd!.hostKey }),
                create: `cat > ${file}; echo "created $GREETING"`,
                update: `cat > ${file}; echo "updated prev=$PULUMI_COMMAND_STDOUT"`,
                delete: `rm ${file}; echo deleted >> ${dir}/log`,
                stdin: content,
                environment: { GREETING: "hello" },
            });
            return { stdout: c.stdout };
        };
        let r = await up("remote-cud", program("first"));
        expect(r.error).toBe("");
        expect(r.outputs.stdout?.value).toBe("created hello");
        expect(read(file)).toBe("first");
        r = await up("remote-cud", program("first"));
        expect(ops(r, "command:remote:Command")).toEqual(["same"]);
        r = await up("remote-cud", program("second"));
        expect(ops(r, "command:remote:Command")).toEqual(["update"]);
        expect(read(file)).toBe("second");
        expect(r.outputs.stdout?.value).toBe("updated prev=created hello");
        r = await destroy("remote-cud");
        expect(r.error).toBe("");
        expect(read(file)).toBe("<absent>");
        expect(read(path.join(dir, "log"))).toBe("deleted\n");
    }, 180_000);

    it("logs in with an encrypted private key and its privateKeyPassword", async () => {
        const r = await up("remote-enc", async () => {
            const c = new command.remote.Command("enc", {
                connection: conn({ privateKey: encrypted.priv, privateKeyPassword: "key-passphrase" }),
                create: "echo via-encrypted-key",
            });
            return { stdout: c.stdout };
        });
        expect(r.error).toBe("");
        expect(r.outputs.stdout?.value).toBe("via-encrypted-key");
        await destroy("remote-enc");
    }, 120_000);

    it("streams output lines to the engine; a changed connection alone is an update that re-runs the command (as upstream)", async () => {
        const dir = path.join(tmp, "remote-conn");
        fs.mkdirSync(dir);
        const program = (timeout: number) => async () => {
            new command.remote.Command("conn", {
                connection: conn({ perDialTimeout: timeout }),
                create: `echo ran >> ${dir}/log; echo streamed-line-one; echo streamed-line-two >&2`,
            });
        };
        let r = await up("remote-conn", program(5));
        expect(r.error).toBe("");
        expect(logged(r)).toContain("streamed-line-one");
        expect(logged(r)).toContain("streamed-line-two");
        r = await up("remote-conn", program(6));
        expect(ops(r, "command:remote:Command")).toEqual(["update"]);
        expect(read(path.join(dir, "log"))).toBe("ran\nran\n");
        await destroy("remote-conn");
    }, 120_000);

    it("refuses a host that presents another key than hostKey, naming the host", async () => {
        const other = keygen(path.join(tmp, "other_host_key"));
        const marker = path.join(tmp, "hostkey-marker");
        const r = await up("remote-hostkey", async () => {
            new command.remote.Command("pinned", {
                connection: conn({ hostKey: other.pub }),
                create: `touch ${marker}`,
            });
        });
        expect(r.ok).toBe(false);
        expect(r.error).toContain(`host key mismatch for 127.0.0.1:${sshd!.port}`);
        expect(r.error).toContain("nothing was run");
        expect(fs.existsSync(marker)).toBe(false);
        // Not retried: one attempt, no "retrying".
        expect(r.text).not.toContain("retrying");
    }, 120_000);

    it("a failing command's error has the exit status, the command and its output", async () => {
        const r = await up("remote-fail", async () => {
            new command.remote.Command("fail", {
                connection: conn(),
                create: "echo remote-out; echo remote-err >&2; exit 7",
            });
        });
        expect(r.ok).toBe(false);
        expect(r.error).toContain('Process exited with status 7: running "echo remote-out; echo remote-err >&2; exit 7":');
        expect(r.error).toContain("remote-err");
        expect(r.error).toContain("remote-out");
        // The private key never shows up anywhere.
        const keyBody = client.priv.split("\n")[1]!;
        expect(r.text).not.toContain(keyBody);
    }, 120_000);

    it("logging: none keeps output and secrets out of the engine's output and of the error", async () => {
        const token = `tok-${process.pid}-${Date.now()}`;
        // Positive control: with logging on, the same output does reach the engine.
        const shown = await up("remote-logging-on", async () => {
            new command.remote.Command("on", { connection: conn(), create: `echo visible-${token}` });
        });
        expect(shown.error).toBe("");
        expect(logged(shown)).toContain(`visible-${token}`);
        expect(shown.text).toContain(`visible-${token}`);

        const quiet = await up("remote-logging-none", async () => {
            new command.remote.Command("quiet", {
                connection: conn(),
                create: "cat; echo; echo out-$SECRET_ENV; echo err-$SECRET_ENV >&2",
                stdin: pulumi.secret(`stdin-${token}`),
                environment: { SECRET_ENV: pulumi.secret(`env-${token}`) },
                logging: "none",
            });
        });
        expect(quiet.error).toBe("");
        expect(quiet.ok).toBe(true);
        expect(quiet.text).not.toContain(token);

        const failing = await up("remote-logging-none-fail", async () => {
            new command.remote.Command("quietfail", {
                connection: conn(),
                // The token comes from the environment, so the command's text (which the error
                // names, as upstream) does not contain it.
                create: "echo out-$T; echo err-$T >&2; exit 9",
                environment: { T: token },
                logging: "none",
            });
        });
        expect(failing.ok).toBe(false);
        expect(failing.error).toContain("Process exited with status 9");
        expect(failing.error).toContain('output not shown: logging is "none"');
        expect(failing.text).not.toContain(`out-${token}`);
        expect(failing.text).not.toContain(`err-${token}`);

        // With logging on, a secret input echoed by the command is hidden in the log and error.
        const secretEcho = await up("remote-secret-echo", async () => {
            new command.remote.Command("secretecho", {
                connection: conn(),
                create: "cat; echo; exit 4",
                stdin: pulumi.secret(`stdin-${token}`),
            });
        });
        expect(secretEcho.ok).toBe(false);
        expect(secretEcho.error).toContain("Process exited with status 4");
        expect(secretEcho.error).toContain("[secret]");
        expect(secretEcho.text).not.toContain(`stdin-${token}`);
    }, 240_000);

    it("a stdout in additionalSecretOutputs is stored encrypted", async () => {
        const value = `secret-stdout-${process.pid}-${Date.now()}`;
        const r = await up("remote-secret", async () => {
            const c = new command.remote.Command(
                "secret",
                { connection: conn(), create: `echo ${"$"}{PREFIX}-${value.slice(14)}`, environment: { PREFIX: "secret-stdout" }, logging: "none" },
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
        expect(exported).not.toContain(value);
        // The connection (with the private key) is a secret too.
        expect(JSON.stringify(resource?.outputs.connection)).toContain("ciphertext");
        expect(exported).not.toContain(client.priv.split("\n")[1]!);
        // And so is the state file itself.
        const stateFiles = (fs.readdirSync(path.join(tmp, "state"), { recursive: true }) as string[])
            .map((f) => path.join(tmp, "state", f))
            .filter((f) => fs.statSync(f).isFile() && f.includes("remote-secret"));
        expect(stateFiles.length).toBeGreaterThan(0);
        expect(stateFiles.filter((f) => fs.readFileSync(f, "utf8").includes(value))).toEqual([]);
    }, 120_000);

    it("retries dialing a closed port up to dialErrorLimit, then fails naming host:port", async () => {
        const closed = await freePort();
        const started = Date.now();
        const r = await up("remote-closed", async () => {
            new command.remote.Command("closed", {
                connection: conn({ port: closed, dialErrorLimit: 2, perDialTimeout: 2 }),
                create: "true",
            });
        });
        expect(r.ok).toBe(false);
        expect(r.error).toContain(`ssh dial 127.0.0.1:${closed} failed after 3 attempts (dialErrorLimit 2)`);
        expect(r.error).toContain("connection refused");
        expect(Date.now() - started).toBeLessThan(60_000);
    }, 120_000);

    it("delete on a host that is gone fails clearly, naming the host", async () => {
        const gone = await startSshd(path.join(tmp, "sshd-gone"), [client.pub]);
        const program = async () => {
            new command.remote.Command("gone", {
                connection: { host: "127.0.0.1", port: gone.port, privateKey: client.priv, dialErrorLimit: 1, perDialTimeout: 2 },
                create: "true",
                delete: "true",
            });
        };
        try {
            const r = await up("remote-gone", program);
            expect(r.error).toBe("");
        } finally {
            await gone.stop();
        }
        const d = await destroy("remote-gone");
        expect(d.ok).toBe(false);
        expect(d.error).toContain(`ssh dial 127.0.0.1:${gone.port} failed after 2 attempts (dialErrorLimit 1)`);
    }, 120_000);
});

describe("plugin", () => {
    it("serves a schema of version 1.2.1 with both Command types", () => {
        // By path: by name, get-schema would try to download the plugin.
        const out = execFileSync(path.join(BIN, "pulumi"), ["package", "get-schema", path.join(BIN, "pulumi-resource-command")], {
            encoding: "utf8",
            env: { ...process.env, ...env },
        });
        const schema = JSON.parse(out) as { name: string; version: string; resources: Record<string, unknown> };
        expect(schema.name).toBe("command");
        expect(schema.version).toBe(COMMAND_VERSION);
        expect(Object.keys(schema.resources).sort()).toEqual(["command:local:Command", "command:remote:Command"]);
    }, 60_000);
});
