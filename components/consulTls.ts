// Consul's HTTPS (`kv.tls`): what the stack checks of the certificates it is given, and where they
// go on the hosts. Pure (node:crypto only): the tests call it with certificates made by openssl.
//
// One CA certificate and one certificate with its key serve every agent of the store (its HTTPS
// listener) and every client of it (the daemons' cluster store, the stack's Consul provider):
// Consul asks every HTTPS client for a certificate from the CA (`verify_incoming`), and Docker's
// store sends one only when it is given all three files (moby 20.10, libnetwork/config
// OptionKVOpts and pkg/discovery/kv: kv.cacertfile, kv.certfile, kv.keyfile).
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { isIP } from "node:net";

/** `kv.tls`: the certificates (PEM); the key is the secret `consulTlsKey`. */
export interface ConsulTlsConfig {
    /** The CA that signed `cert`; every agent and client trusts it alone. */
    ca: string;
    /** The certificate every agent serves and every client presents. */
    cert: string;
}

/** How to give the key. */
export const CONSUL_TLS_KEY_HINT = "pulumi config set --secret consulTlsKey < consul-key.pem";

/** Where each host's dockerd reads the files (written by daemon-env.sh: directory 0700, files 0600, root's). */
export const DAEMON_TLS_DIR = "/etc/docker/docker-overlay-tls";

/** The `cluster-store-opts` that make Docker's store speak HTTPS with the files in DAEMON_TLS_DIR. */
export function daemonTlsOpts(dir = DAEMON_TLS_DIR): Record<string, string> {
    return { "kv.cacertfile": `${dir}/ca.pem`, "kv.certfile": `${dir}/cert.pem`, "kv.keyfile": `${dir}/key.pem` };
}

const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

function parseCert(pem: string): X509Certificate | string {
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) return "is not a PEM certificate (expected a block that starts with -----BEGIN CERTIFICATE-----)";
    try {
        return new X509Certificate(pem);
    } catch (e) {
        return `cannot be read as a certificate (${(e as Error).message})`;
    }
}

function parseKey(pem: string): KeyObject | string {
    if (!/-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(pem))
        return /ENCRYPTED/.test(pem)
            ? "is encrypted: Docker and Consul read the key without a passphrase. Store it decrypted (`openssl pkey -in key.pem -out plain.pem`) as the secret"
            : "is not a PEM private key (expected a block that starts with -----BEGIN PRIVATE KEY-----, -----BEGIN EC PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)";
    try {
        return createPrivateKey(pem);
    } catch (e) {
        return `cannot be read as a private key (${(e as Error).message})`;
    }
}

/**
 * What is wrong with the certificates of `kv.tls` and the key (`consulTlsKey`, its plain value;
 * null: not known here, left unchecked), one line each, naming the key to fix. NOW: the time the
 * validity is checked against.
 */
export function tlsMaterialProblems(tls: ConsulTlsConfig, key: string | undefined | null, now: Date = new Date(), ns = "docker-overlay"): string[] {
    const out: string[] = [];
    const ca = parseCert(tls.ca);
    const cert = parseCert(tls.cert);
    if (typeof ca === "string") out.push(`\`${ns}:kv.tls.ca\` ${ca}`);
    if (typeof cert === "string") out.push(`\`${ns}:kv.tls.cert\` ${cert}`);
    if (key !== null && (key === undefined || key === "")) out.push(`\`${ns}:kv.tls\` is set: Consul's HTTPS needs the certificate's private key as the secret \`${ns}:consulTlsKey\`: ${CONSUL_TLS_KEY_HINT}`);
    const k = key ? parseKey(key) : undefined;
    if (typeof k === "string") out.push(`\`${ns}:consulTlsKey\` ${k}`);
    const expired = (c: X509Certificate, what: string) => {
        if (c.validToDate.getTime() <= now.getTime()) out.push(`\`${ns}:${what}\` expired on ${c.validToDate.toISOString()}: issue a new one`);
        else if (c.validFromDate.getTime() > now.getTime()) out.push(`\`${ns}:${what}\` is valid only from ${c.validFromDate.toISOString()} (check the clock of the machine that made it)`);
    };
    if (typeof ca !== "string") {
        if (!ca.ca) out.push(`\`${ns}:kv.tls.ca\` is not a CA certificate (no basicConstraints CA:TRUE): give the certificate of the CA that signed \`kv.tls.cert\``);
        expired(ca, "kv.tls.ca");
    }
    if (typeof cert !== "string") {
        expired(cert, "kv.tls.cert");
        if (typeof ca !== "string" && !(cert.checkIssued(ca) && cert.verify(ca.publicKey)))
            out.push(`\`${ns}:kv.tls.cert\` was not signed by \`kv.tls.ca\` (its issuer is "${cert.issuer.replace(/\n/g, ", ")}"): every agent and client trusts that CA alone, so they would refuse each other`);
        const usage = cert.keyUsage;
        // No extendedKeyUsage at all means any use; a list must hold both.
        if (Array.isArray(usage) && !(usage.includes(SERVER_AUTH) && usage.includes(CLIENT_AUTH)))
            out.push(
                `\`${ns}:kv.tls.cert\` is not for both TLS servers and clients (its extendedKeyUsage lacks ${usage.includes(SERVER_AUTH) ? "clientAuth" : "serverAuth"}): the same certificate serves Consul's HTTPS and is presented by the daemons and the stack. Issue it with \`extendedKeyUsage = serverAuth, clientAuth\``,
            );
        if (k !== undefined && typeof k !== "string" && !cert.checkPrivateKey(k)) out.push(`\`${ns}:consulTlsKey\` is not the private key of \`kv.tls.cert\`: store the key the certificate was issued for`);
    }
    return out;
}

/** An address a TLS client will ask for, and who asks (for the message). */
export interface TlsName {
    address: string;
    /** For example `the Consul provider (hosts[0].address of lab1)`. */
    who: string;
}

/**
 * The names in NEEDS that CERT (PEM) does not cover (an IP address needs an IP entry in its
 * subjectAltName, a DNS name a DNS entry: Go and Node no longer look at the subject's CN), one
 * line for all, with the openssl line that issues a certificate that does. Empty when the
 * certificate cannot be read (tlsMaterialProblems says so).
 */
export function tlsNameProblems(certPem: string, needs: readonly TlsName[], ns = "docker-overlay"): string[] {
    const cert = parseCert(certPem);
    if (typeof cert === "string") return [];
    const covers = (a: string) => (isIP(a) ? cert.checkIP(a) !== undefined : cert.checkHost(a, { subject: "never" }) !== undefined);
    const missing = needs.filter((n) => !covers(n.address));
    if (missing.length === 0) return [];
    const all = [...new Set(needs.map((n) => n.address))];
    const san = all.map((a) => `${isIP(a) ? "IP" : "DNS"}:${a}`).join(",");
    const whoByAddress = new Map<string, string[]>();
    for (const m of missing) whoByAddress.set(m.address, [...(whoByAddress.get(m.address) ?? []), m.who]);
    return [
        `\`${ns}:kv.tls.cert\` does not cover ${[...whoByAddress].map(([a, who]) => `${a} (${who.join("; ")})`).join(", ")}: its subjectAltName is "${cert.subjectAltName ?? "none"}", and TLS clients check the address they dial against it. Fix: issue the certificate with \`subjectAltName = ${san}\` (docs/consul-tls.md shows the openssl commands)`,
    ];
}
