/**
 * Which SSH host key each host must present: one policy for every SSH client the stack uses
 * (preflight's ssh2, pulumi-command's remote commands, the docker provider's OpenSSH).
 *
 * A host's key is `hosts[].hostKey`, else the first usable key for it in `ssh.knownHostsFile`
 * (looked up with OpenSSH's own `ssh-keygen -F`, which knows hashed entries, patterns, ports and
 * `@revoked`), else none: an unpinned host is refused (preflight shows the key it presented and
 * the line to add) unless `ssh.insecureAcceptAnyHostKey` says otherwise.
 *
 * The decisions are pure; only `lookupKnownHosts` runs a process.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { HostConfig, SshConfig } from "./config";
import { CONFIG_NAMESPACE } from "./config";

/** A key line of a known_hosts match: "ssh-ed25519 AAAA...", and how OpenSSH marked it. */
export interface KnownKey {
    key: string;
    marker: "" | "revoked" | "ca";
}

/** Key types the stack can pin, in the order it prefers them (RSA cannot be: see config.ts). */
export const PINNABLE_TYPES = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"] as const;

/** The name OpenSSH files a host under in known_hosts: `address`, or `[address]:port` off port 22. */
export function knownHostsName(address: string, port: number): string {
    return port === 22 ? address : `[${address}]:${port}`;
}

/** The matches `ssh-keygen -F NAME -f FILE` printed: each "# Host ... found: line N [REVOKED|CA]" header and its line. */
export function parseKeygenFind(output: string): KnownKey[] {
    const out: KnownKey[] = [];
    let marker: KnownKey["marker"] = "";
    for (const raw of output.split("\n")) {
        const line = raw.trim();
        if (line === "") continue;
        const header = /^# Host .* found: line \d+\s*(REVOKED|CA)?\s*$/.exec(line);
        if (header) {
            marker = header[1] === "REVOKED" ? "revoked" : header[1] === "CA" ? "ca" : "";
            continue;
        }
        if (line.startsWith("#")) continue;
        const fields = line.split(/\s+/);
        if (fields[0]?.startsWith("@")) fields.shift();
        const [, type, blob] = fields;
        if (type && blob) out.push({ key: `${type} ${blob}`, marker });
        marker = "";
    }
    return out;
}

/**
 * The key to pin among a host's known_hosts matches: never a revoked one or a CA, ed25519 before
 * ECDSA; `rsaOnly` when RSA keys were all there was (they cannot be pinned).
 */
export function pinnableKey(matches: readonly KnownKey[]): { key?: string; rsaOnly: boolean } {
    const revoked = new Set(matches.filter((m) => m.marker === "revoked").map((m) => m.key));
    const usable = matches.filter((m) => m.marker === "" && !revoked.has(m.key)).map((m) => m.key);
    for (const type of PINNABLE_TYPES) {
        const k = usable.find((u) => u.startsWith(`${type} `));
        if (k) return { key: k, rsaOnly: false };
    }
    return { rsaOnly: usable.some((u) => u.startsWith("ssh-rsa ")) };
}

/** `~/x` with the home directory. */
export function expandHome(file: string, home = os.homedir()): string {
    return file === "~" ? home : file.startsWith("~/") ? path.join(home, file.slice(2)) : file;
}

/** What `ssh-keygen -F` knows about NAME in FILE; throws an Error saying what went wrong. */
export function lookupKnownHosts(file: string, name: string): KnownKey[] {
    fs.accessSync(file, fs.constants.R_OK);
    const r = spawnSync("ssh-keygen", ["-F", name, "-f", file], { encoding: "utf8", timeout: 10_000 });
    if (r.error) throw new Error(`cannot run ssh-keygen (OpenSSH's client tools): ${r.error.message}`);
    if (r.status === 1) return [];
    if (r.status !== 0) throw new Error(`ssh-keygen -F failed: ${(r.stderr || `exit ${r.status}`).trim()}`);
    return parseKeygenFind(r.stdout);
}

export type Lookup = (file: string, name: string) => KnownKey[];

/**
 * Every host with the key it must present filled in from `ssh.knownHostsFile` where `hostKey` is
 * not set; `problems` for a file that cannot be read or a host known only by RSA keys.
 */
export function resolveHostKeys(hosts: readonly HostConfig[], ssh: SshConfig, lookup: Lookup = lookupKnownHosts): { hosts: HostConfig[]; problems: string[] } {
    const problems: string[] = [];
    const file = ssh.knownHostsFile === undefined ? undefined : expandHome(ssh.knownHostsFile);
    const resolved = hosts.map((h) => {
        if (h.hostKey || file === undefined) return h;
        const name = knownHostsName(h.address, h.sshPort);
        let matches: KnownKey[];
        try {
            matches = lookup(file, name);
        } catch (e) {
            if (!problems.some((p) => p.startsWith(`\`${CONFIG_NAMESPACE}:ssh.knownHostsFile\``)))
                problems.push(`\`${CONFIG_NAMESPACE}:ssh.knownHostsFile\` is "${ssh.knownHostsFile}": it cannot be read (${(e as Error).message}). Fix: give the path of a readable known_hosts file, or pin each host's key in \`hosts[].hostKey\``);
            return h;
        }
        const { key, rsaOnly } = pinnableKey(matches);
        if (key) return { ...h, hostKey: key };
        if (rsaOnly)
            problems.push(
                `host ${h.name}: ${file} knows ${name} only by an RSA key, which cannot be pinned (pulumi-command would offer only the SHA-1 \`ssh-rsa\` signature, which OpenSSH 8.8 and later refuse). Fix: add its ed25519 key (\`ssh-keyscan -t ed25519 -p ${h.sshPort} ${h.address} >> ${ssh.knownHostsFile}\`, checked against the host's console) or pin it in \`hosts[].hostKey\``,
            );
        return h;
    });
    return { hosts: resolved, problems };
}

/**
 * Without preflight nothing shows the key a host presents, so a host without a known key is a
 * config problem (unless `ssh.insecureAcceptAnyHostKey`).
 */
export function unpinnedProblems(hosts: readonly HostConfig[], ssh: SshConfig): string[] {
    if (ssh.insecureAcceptAnyHostKey) return [];
    return hosts.flatMap((h, i) =>
        h.hostKey
            ? []
            : [
                  `\`${CONFIG_NAMESPACE}:hosts[${i}].hostKey\` is nothing and ${ssh.knownHostsFile ? `${ssh.knownHostsFile} has no key for ${knownHostsName(h.address, h.sshPort)}` : "`ssh.knownHostsFile` is not set"}: host ${h.name}'s SSH key cannot be checked, and an unchecked host gets the session (and, in swarm mode, the join token). Fix: pin it (\`ssh-keyscan -t ed25519 -p ${h.sshPort} ${h.address}\`, compared with the host's console, prints it), or run preview once with preflight enabled: it shows the key the host presents`,
              ],
    );
}

/** The warning every run prints while host keys are not checked. */
export function insecureWarning(hosts: readonly HostConfig[]): string | undefined {
    const unchecked = hosts.filter((h) => !h.hostKey).map((h) => h.name);
    if (unchecked.length === 0) return undefined;
    return `docker-overlay: INSECURE: \`ssh.insecureAcceptAnyHostKey\` is set, so the SSH host keys of ${unchecked.join(", ")} are NOT checked: whoever answers at their addresses gets the SSH session and could be handed secrets. Use it only on a lab; pin the keys (\`hosts[].hostKey\` or \`ssh.knownHostsFile\`) anywhere else`;
}
