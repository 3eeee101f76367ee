// The files the `docker` CLI's ssh connection helper needs on the machine that runs Pulumi:
// the private key (ssh reads keys only from files) and a known_hosts file with the pinned key.
// They live in a private 0700 directory under the OS temp dir, named by a hash of their
// content (so the provider's `sshOpts`, which name them, stay the same from run to run). The
// key never reaches Pulumi state (only its path does, inside secret provider inputs), and its
// file lives only while a run needs it: keyHolders.cjs removes it once the last Pulumi run that
// holds it has ended. `pulumi destroy` and `pulumi refresh` therefore take `--run-program`,
// which writes it again.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

function privateDir(): string {
    const uid = typeof process.getuid === "function" ? process.getuid() : 0;
    const dir = path.join(os.tmpdir(), `docker-overlay-${uid}`);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.lstatSync(dir);
    if (!st.isDirectory() || (typeof process.getuid === "function" && st.uid !== process.getuid()) || (st.mode & 0o077) !== 0)
        throw new Error(`${dir} must be a directory owned by you with mode 0700; remove it and run again`);
    return dir;
}

function writeOnce(name: string, content: string): string {
    const file = path.join(privateDir(), `${name}-${createHash("sha256").update(content).digest("hex").slice(0, 16)}`);
    if (!fs.existsSync(file)) {
        const tmp = `${file}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, content, { mode: 0o600 });
        fs.renameSync(tmp, file);
    }
    return file;
}

interface KeyHolders {
    alive(pid: number): boolean;
    hold(file: string, content: string, holder: number): void;
    release(file: string, holder: number): boolean;
}
/** The reaper, next to this file, or in the sources when this file is the build's (bin/components). */
export const KEY_HOLDERS =
    [path.join(__dirname, "keyHolders.cjs"), path.join(__dirname, "..", "..", "components", "keyHolders.cjs")].find((f) => fs.existsSync(f)) ??
    path.join(__dirname, "keyHolders.cjs");
const holders = require(KEY_HOLDERS) as KeyHolders;

/** A process's parent and command name (Linux: /proc; elsewhere: ps). */
function procParent(pid: number): { ppid: number; comm: string } | undefined {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        const close = stat.lastIndexOf(")");
        return { comm: stat.slice(stat.indexOf("(") + 1, close), ppid: Number(stat.slice(close + 2).split(" ")[1]) };
    } catch {
        const r = spawnSync("ps", ["-o", "ppid=,comm=", "-p", String(pid)], { encoding: "utf8" });
        const m = /^\s*(\d+)\s+(.*)$/.exec((r.stdout ?? "").trim());
        return m ? { ppid: Number(m[1]), comm: path.basename(m[2]!.trim()) } : undefined;
    }
}

/**
 * The process whose end ends this run: the `pulumi` CLI when the program runs under it (the
 * language host's parent), else this process (an Automation API program runs inside it).
 */
export function runOwner(pid = process.pid, parentOf = procParent): number {
    let p = parentOf(pid)?.ppid;
    for (let depth = 0; p !== undefined && p > 1 && depth < 8; depth++) {
        const info = parentOf(p);
        if (!info) break;
        if (info.comm === "pulumi") return p;
        p = info.ppid;
    }
    return pid;
}

const reaping = new Set<string>();

/**
 * Writes the private key to a 0600 file, held until `owner` (default: this run's) ends, and
 * returns its path. A detached reaper removes the file once no run that holds it is left.
 */
export function privateKeyFile(privateKey: string, owner = runOwner()): string {
    const content = privateKey.endsWith("\n") ? privateKey : privateKey + "\n";
    const file = path.join(privateDir(), `id-${createHash("sha256").update(content).digest("hex").slice(0, 16)}`);
    holders.hold(file, content, owner);
    if (!reaping.has(`${file} ${owner}`)) {
        reaping.add(`${file} ${owner}`);
        spawn(process.execPath, [KEY_HOLDERS, String(owner), file], { detached: true, stdio: "ignore" }).unref();
    }
    return file;
}

/** The known_hosts line for a host key ("ssh-ed25519 AAAA...") at address:port. */
export function knownHostsLine(address: string, port: number, hostKey: string): string {
    const host = port === 22 ? address : `[${address}]:${port}`;
    return `${host} ${hostKey.trim()}\n`;
}

/**
 * ssh options for the docker provider: our key only, batch mode, and the host key: only the
 * pinned one, or, when `hostKey` is undefined (the caller checked `ssh.insecureAcceptAnyHostKey`),
 * any, remembered nowhere.
 */
export function sshOptions(keyFile: string, address: string, port: number, hostKey: string | undefined): string[] {
    const known =
        hostKey === undefined
            ? ["-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "LogLevel=ERROR"]
            : ["-o", `UserKnownHostsFile=${writeOnce("known_hosts", knownHostsLine(address, port, hostKey))}`, "-o", "StrictHostKeyChecking=yes"];
    return ["-i", keyFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=15", ...known];
}
