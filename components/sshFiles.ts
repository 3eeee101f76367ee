// The files the `docker` CLI's ssh connection helper needs on the machine that runs Pulumi:
// the private key (ssh reads keys only from files) and a known_hosts file with the pinned key.
// They live in a private 0700 directory under the OS temp dir, named by a hash of their
// content, so the same key is written once and never logged; the key itself never reaches
// Pulumi state (only its path does, inside secret provider inputs).
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

/** Writes the private key to a 0600 file and returns its path. */
export function privateKeyFile(privateKey: string): string {
    return writeOnce("id", privateKey.endsWith("\n") ? privateKey : privateKey + "\n");
}

/** The known_hosts line for a host key ("ssh-ed25519 AAAA...") at address:port. */
export function knownHostsLine(address: string, port: number, hostKey: string): string {
    const host = port === 22 ? address : `[${address}]:${port}`;
    return `${host} ${hostKey.trim()}\n`;
}

/** ssh options for the docker provider: our key only, batch mode, host key pinned if given. */
export function sshOptions(keyFile: string, address: string, port: number, hostKey: string | undefined): string[] {
    const known = hostKey
        ? ["-o", `UserKnownHostsFile=${writeOnce("known_hosts", knownHostsLine(address, port, hostKey))}`, "-o", "StrictHostKeyChecking=yes"]
        : ["-o", `UserKnownHostsFile=${path.join(privateDir(), "known_hosts_tofu")}`, "-o", "StrictHostKeyChecking=accept-new"];
    return ["-i", keyFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=15", ...known];
}
