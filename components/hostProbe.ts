// Reads every host's preflight facts over SSH, in-process and read-only, so that `pulumi
// preview` sees them before any resource is registered. All hosts in parallel; the host key
// pinned where `hosts[].hostKey` is given; a timeout for the connection and another for the
// script. The analysis of the facts is in preflight.ts.
import * as crypto from "node:crypto";
import { Client, type ConnectConfig, utils } from "ssh2";
import { parseHostFacts } from "./hostFacts";
import type { ProbeOutcome } from "./preflight";
import { PINNABLE_TYPES } from "./hostKeys";
import { renderScript, scriptBundle, scriptCommand } from "./hostScripts";

/** One host to probe. */
export interface ProbeTarget {
    name: string;
    address: string;
    sshPort: number;
    sshUser: string;
    /** "ssh-ed25519 AAAA...": the only key accepted when given. */
    hostKey?: string;
    /** Without `hostKey`: accept any key (`ssh.insecureAcceptAnyHostKey`); else refuse, reporting the key presented. */
    acceptAnyHostKey?: boolean;
    /** Addresses to ask the route to (the other hosts, and its own). */
    peers: string[];
}

export interface ProbeOptions {
    /** The SSH private key (OpenSSH or PEM text). */
    privateKey: string;
    /** Per host: for the SSH handshake, and again for the facts script. */
    timeoutSeconds: number;
}

/** OpenSSH's fingerprint of a public key blob: "SHA256:" and unpadded base64. */
export function fingerprint(blob: Buffer): string {
    return "SHA256:" + crypto.createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

/** A pinned key line split into its type and blob. */
export function parseHostKey(line: string): { type: string; blob: Buffer } {
    const [type, b64] = line.trim().split(/\s+/) as [string, string | undefined];
    if (!b64) throw new Error(`docker-overlay: host key "${line.slice(0, 40)}" has no key data`);
    return { type, blob: Buffer.from(b64, "base64") };
}

type HostKeyAlgorithms = NonNullable<NonNullable<ConnectConfig["algorithms"]>["serverHostKey"]>;

/** The host key algorithm to offer for a pinned key type, so the server presents that key (RSA keys are refused by the config). */
function hostKeyAlgorithms(type: string): HostKeyAlgorithms {
    return [type as "ssh-ed25519"];
}

/** A public key blob (SSH wire format) as a key line, "ssh-ed25519 AAAA...". */
export function keyLine(blob: Buffer): string {
    const len = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
    const type = len > 0 && len < 64 && blob.length >= 4 + len ? blob.subarray(4, 4 + len).toString("latin1") : "unknown";
    return `${type} ${blob.toString("base64")}`;
}

/** An error message with anything that looks like key material removed. */
export function scrub(message: string, privateKey: string): string {
    let out = message.replace(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, "[private key hidden]");
    for (const line of privateKey.split(/\r?\n/)) {
        const l = line.trim();
        if (l.length >= 16 && !l.startsWith("-----")) out = out.split(l).join("[private key hidden]");
    }
    return out.replace(/\s+/g, " ").trim().slice(0, 400);
}

/** The command that runs the facts script on a host, and the stdin that carries the script. */
export function preflightCommand(target: ProbeTarget, timeoutSeconds: number): { command: string; stdin: string } {
    const script = renderScript("host-facts", {
        PEERS: target.peers,
        HOST_LABEL: target.name,
        DOCKER_TIMEOUT: Math.max(2, Math.floor(timeoutSeconds / 2)),
    });
    return { command: scriptCommand("create", "host-facts"), stdin: scriptBundle({ create: script }) };
}

const MAX_OUTPUT = 4 * 1024 * 1024;

/** Probes one host; never throws: every way it can end is a ProbeOutcome. */
export function probeHost(target: ProbeTarget, options: ProbeOptions): Promise<ProbeOutcome> {
    const host = target.name;
    const ms = options.timeoutSeconds * 1000;
    return new Promise((resolve) => {
        const conn = new Client();
        let settled = false;
        let mismatch: { presented: string; pinned: string } | undefined;
        let unknown: { presented: string; fingerprint: string } | undefined;
        const refused = (): ProbeOutcome | undefined =>
            mismatch ? { host, kind: "hostKeyMismatch", ...mismatch } : unknown ? { host, kind: "hostKeyUnknown", ...unknown } : undefined;
        let timer: NodeJS.Timeout | undefined;
        const finish = (o: ProbeOutcome) => {
            if (settled) return;
            settled = true;
            if (timer) clearTimeout(timer);
            conn.end();
            // A connection that never got going may not close on its own.
            setImmediate(() => conn.destroy());
            resolve(o);
        };
        let pinned: { type: string; blob: Buffer } | undefined;
        try {
            pinned = target.hostKey ? parseHostKey(target.hostKey) : undefined;
        } catch (e) {
            resolve({ host, kind: "unreachable", error: (e as Error).message });
            return;
        }
        conn.on("error", (e: Error & { level?: string }) => {
            finish(refused() ?? { host, kind: "unreachable", error: scrub(e.message, options.privateKey) });
        });
        conn.on("close", () => {
            finish(refused() ?? { host, kind: "unreachable", error: "the connection closed before the session started" });
        });
        conn.on("ready", () => {
            timer = setTimeout(() => finish({ host, kind: "failed", error: `the facts script did not finish within ${options.timeoutSeconds} seconds` }), ms);
            const { command, stdin } = preflightCommand(target, options.timeoutSeconds);
            conn.exec(command, (err, stream) => {
                if (err) return finish({ host, kind: "failed", error: scrub(err.message, options.privateKey) });
                stream.end(stdin);
                let out = "";
                let errOut = "";
                stream.on("data", (d: Buffer) => {
                    if (out.length < MAX_OUTPUT) out += d.toString("utf8");
                });
                stream.stderr.on("data", (d: Buffer) => {
                    if (errOut.length < 4096) errOut += d.toString("utf8");
                });
                stream.on("close", (code: number | null) => {
                    if (code !== 0) return finish({ host, kind: "failed", error: `exit ${code}: ${scrub(errOut, options.privateKey) || "no message"}` });
                    try {
                        finish({ host, kind: "facts", facts: parseHostFacts(out) });
                    } catch (e) {
                        finish({ host, kind: "failed", error: (e as Error).message });
                    }
                });
            });
        });
        try {
            conn.connect({
                host: target.address,
                port: target.sshPort,
                username: target.sshUser,
                privateKey: options.privateKey,
                readyTimeout: ms,
                tryKeyboard: false,
                ...(pinned
                    ? {
                          algorithms: { serverHostKey: hostKeyAlgorithms(pinned.type) },
                          hostVerifier: (key: Buffer) => {
                              if (key.equals(pinned.blob)) return true;
                              mismatch = { presented: fingerprint(key), pinned: fingerprint(pinned.blob) };
                              return false;
                          },
                      }
                    : target.acceptAnyHostKey
                      ? {}
                      : {
                            // Only keys that can be pinned, so that the one reported can be.
                            algorithms: { serverHostKey: [...PINNABLE_TYPES] as HostKeyAlgorithms },
                            hostVerifier: (key: Buffer) => {
                                unknown = { presented: keyLine(key), fingerprint: fingerprint(key) };
                                return false;
                            },
                        }),
            });
        } catch (e) {
            // A key ssh2 cannot parse is thrown here, synchronously; its message holds no key.
            finish({ host, kind: "unreachable", error: scrub((e as Error).message, options.privateKey) });
        }
    });
}

/** Why ssh2 cannot use the private key (encrypted, malformed), or undefined when it can. */
export function privateKeyError(privateKey: string): string | undefined {
    const parsed = utils.parseKey(privateKey);
    return parsed instanceof Error ? scrub(parsed.message, privateKey) : undefined;
}

/** Probes every host at once; with a key that cannot be used, none (every outcome says so). */
export function probeHosts(targets: readonly ProbeTarget[], options: ProbeOptions): Promise<ProbeOutcome[]> {
    const keyError = privateKeyError(options.privateKey);
    if (keyError !== undefined) return Promise.resolve(targets.map((t) => ({ host: t.name, kind: "badKey" as const, error: keyError })));
    return Promise.all(targets.map((t) => probeHost(t, options)));
}
