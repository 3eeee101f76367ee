// `kv.tls`: what the stack refuses of the certificates before any host is touched, with real
// certificates made by openssl (test/fixtures/tls.ts); the Consul agent's HTTPS settings; the
// program's HTTPS client against a local server that asks for a client certificate. Whether Consul,
// Docker's store and the Consul provider really speak it is the lab's: test/e2e/consul-tls.test.ts.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, parseStackConfig, type RawConfig } from "../../components/config";
import { consulAnswers, consulKey } from "../../components/consulEndpoint";
import { daemonTlsOpts, tlsMaterialProblems, tlsNameProblems } from "../../components/consulTls";
import { CONSUL_TLS_FILE, consulTlsConfig, kvContainerSpec } from "../../components/kvContainer";
import { consulTlsNameProblems, findProblems, hubOf, type ProbeOutcome } from "../../components/preflight";
import { makeTls, type TlsMaterial } from "../fixtures/tls";

const ADDR = { lab1: "10.210.0.11", lab2: "10.210.0.12", lab3: "10.210.0.13" };

let good: TlsMaterial;
let other: TlsMaterial;
beforeAll(() => {
    good = makeTls({ san: ["IP:10.210.0.11", "IP:10.210.0.12", "IP:10.210.0.13", "IP:127.0.0.1", "DNS:consul.lab"] });
    other = makeTls({ san: ["IP:10.210.0.11"] });
});
afterAll(() => {
    for (const m of [good, other]) fs.rmSync(m.dir, { recursive: true, force: true });
});

describe("tlsMaterialProblems", () => {
    it("a CA, a certificate it signed for servers and clients, and that certificate's key: no problem", () => {
        expect(tlsMaterialProblems({ ca: good.ca, cert: good.cert }, good.key)).toEqual([]);
    });

    it("names each key to fix: a key that is not the certificate's, a certificate another CA signed", () => {
        expect(tlsMaterialProblems({ ca: good.ca, cert: good.cert }, other.key)).toEqual([
            "`docker-overlay:consulTlsKey` is not the private key of `kv.tls.cert`: store the key the certificate was issued for",
        ]);
        expect(tlsMaterialProblems({ ca: good.ca, cert: other.cert }, other.key)).toEqual([
            expect.stringMatching(/^`docker-overlay:kv\.tls\.cert` was not signed by `kv\.tls\.ca` \(its issuer is "CN=docker-overlay test CA"\): every agent and client trusts that CA alone/),
        ]);
    });

    it("a missing or unreadable key, a certificate given as the CA, text that is no PEM", () => {
        expect(tlsMaterialProblems({ ca: good.ca, cert: good.cert }, undefined)).toEqual([
            "`docker-overlay:kv.tls` is set: Consul's HTTPS needs the certificate's private key as the secret `docker-overlay:consulTlsKey`: pulumi config set --secret consulTlsKey < consul-key.pem",
        ]);
        expect(tlsMaterialProblems({ ca: good.cert, cert: good.cert }, good.key)).toContainEqual(expect.stringMatching(/^`docker-overlay:kv\.tls\.ca` is not a CA certificate/));
        expect(tlsMaterialProblems({ ca: good.ca, cert: "hello" }, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nxx\n-----END ENCRYPTED PRIVATE KEY-----")).toEqual([
            "`docker-overlay:kv.tls.cert` is not a PEM certificate (expected a block that starts with -----BEGIN CERTIFICATE-----)",
            expect.stringMatching(/^`docker-overlay:consulTlsKey` is encrypted: Docker and Consul read the key without a passphrase/),
        ]);
    });

    it("an expired certificate (checked against a date past its end)", () => {
        const later = new Date(Date.now() + 40 * 24 * 3600 * 1000);
        const problems = tlsMaterialProblems({ ca: good.ca, cert: good.cert }, good.key, later);
        expect(problems).toContainEqual(expect.stringMatching(/^`docker-overlay:kv\.tls\.cert` expired on \d{4}-\d\d-\d\dT.*: issue a new one$/));
        expect(problems).toContainEqual(expect.stringMatching(/^`docker-overlay:kv\.tls\.ca` expired on /));
    });

    it("a certificate for servers only: the daemons and the provider present it as clients", () => {
        const serverOnly = makeTls({ san: ["IP:10.210.0.11"], eku: "serverAuth" });
        try {
            expect(tlsMaterialProblems({ ca: serverOnly.ca, cert: serverOnly.cert }, serverOnly.key)).toEqual([
                expect.stringMatching(/^`docker-overlay:kv\.tls\.cert` is not for both TLS servers and clients \(its extendedKeyUsage lacks clientAuth\)/),
            ]);
            // No extendedKeyUsage at all is any use.
            const any = makeTls({ san: ["IP:10.210.0.11"], eku: "", ca: { cert: serverOnly.ca, key: serverOnly.caKey } });
            expect(tlsMaterialProblems({ ca: any.ca, cert: any.cert }, any.key)).toEqual([]);
        } finally {
            fs.rmSync(serverOnly.dir, { recursive: true, force: true });
        }
    });
});

describe("tlsNameProblems", () => {
    it("IP addresses need IP entries, names DNS entries; one line names every address missing and the subjectAltName to issue", () => {
        expect(tlsNameProblems(good.cert, [{ address: "10.210.0.12", who: "x" }, { address: "consul.lab", who: "y" }])).toEqual([]);
        expect(tlsNameProblems(other.cert, [{ address: "10.210.0.11", who: "the provider" }, { address: "10.210.0.12", who: "the daemon on lab2" }, { address: "consul.lab", who: "z" }])).toEqual([
            '`docker-overlay:kv.tls.cert` does not cover 10.210.0.12 (the daemon on lab2), consul.lab (z): its subjectAltName is "IP Address:10.210.0.11", and TLS clients check the address they dial against it. Fix: issue the certificate with `subjectAltName = IP:10.210.0.11,IP:10.210.0.12,DNS:consul.lab` (docs/consul-tls.md shows the openssl commands)',
        ]);
    });
});

describe("preflight: the addresses the certificate must cover", () => {
    const raw = (kv: RawConfig["kv"], mode: "kv" | "swarm" = "kv"): RawConfig => ({
        mode,
        hosts: Object.entries(ADDR).map(([name, address]) => ({ name, address })),
        kv,
        network: { name: "lab_overlay" },
    });
    const facts = (underlay: Record<string, string> = ADDR): ProbeOutcome[] =>
        Object.keys(ADDR).map((name) => ({
            host: name,
            kind: "facts",
            facts: {
                hostname: name,
                docker: { ok: true, version: "20.10.24", id: `ID-${name}`, name, swarm: { state: "inactive", nodeId: "", control: false, clusterId: "", managers: [] }, liveRestore: false, clusterStore: "", clusterAdvertise: "" },
                interfaces: [{ name: "eth0", mtu: 1500, up: true, addresses: [`${underlay[name]}/24`] }],
                routes: Object.values(ADDR).map((to) => ({ to, interface: "eth0", source: underlay[name]!, error: "" })),
                vxlan: "loaded",
                daemonJson: { present: false },
                unitOptions: [],
                dockerd: "boot/1",
                epoch: "",
                owner: "",
                user: { uid: 0, name: "root", stateWritable: true, dockerConfigWritable: true, lockWritable: true },
                lockHeld: false,
                applied: { daemonJsonChanged: false, applyEpoch: 0, swarmMarker: "", joinEpoch: 0 },
            },
        }));

    it("one server: its SSH address (the provider) and its underlay address (every daemon); a cluster: every host's underlay address too", () => {
        const one = parseStackConfig(raw({ backend: "consul", host: "lab1", tls: { ca: other.ca, cert: other.cert } }), "Pulumi.lab.yaml");
        expect(findProblems(one, "kv", facts())).toEqual([]);
        // lab1 reaches the others from another address than its SSH address: the daemons dial that one.
        expect(findProblems(one, "kv", facts({ ...ADDR, lab1: "10.210.1.11" }))).toEqual([expect.stringContaining("does not cover 10.210.1.11 (every daemon, to lab1's underlay address)")]);
        const three = parseStackConfig(raw({ backend: "consul", servers: ["lab1", "lab2", "lab3"], tls: { ca: other.ca, cert: other.cert } }), "Pulumi.lab.yaml");
        expect(findProblems(three, "kv", facts())).toEqual([
            expect.stringContaining("does not cover 10.210.0.12 (the stack's Consul provider: `hosts[1].address` of lab2; the daemon on lab2, to its own agent), 10.210.0.13 (the stack's Consul provider: `hosts[2].address` of lab3; the daemon on lab3, to its own agent)"),
        ]);
        const all = parseStackConfig(raw({ backend: "consul", servers: ["lab1", "lab2", "lab3"], tls: { ca: good.ca, cert: good.cert } }), "Pulumi.lab.yaml");
        expect(findProblems(all, "kv", facts())).toEqual([]);
    });

    it("swarm mode (Consul as the registry only): the servers' SSH addresses alone", () => {
        const swarm = parseStackConfig(raw({ backend: "consul", host: "lab1", tls: { ca: other.ca, cert: other.cert } }, "swarm"), "Pulumi.lab.yaml");
        const f = new Map(facts({ ...ADDR, lab1: "10.210.1.11" }).flatMap((o) => (o.kind === "facts" ? [[o.host, o.facts] as const] : [])));
        expect(consulTlsNameProblems(swarm, "swarm", hubOf(swarm, "swarm"), f)).toEqual([]);
    });
});

describe("the stack file", () => {
    it("kv.tls is Consul's; its certificates must be PEM", () => {
        const bad = (kv: RawConfig["kv"]) => {
            try {
                parseStackConfig({ mode: "kv", hosts: [{ name: "lab1", address: "10.210.0.11" }], kv }, "Pulumi.lab.yaml");
            } catch (e) {
                if (e instanceof ConfigError) return e.problems;
                throw e;
            }
            return [];
        };
        expect(bad({ backend: "etcd", host: "lab1", tls: { ca: good.ca, cert: good.cert } })).toEqual([expect.stringContaining("`kv.tls` is Consul's HTTPS: with `kv.backend: etcd` remove `kv.tls`")]);
        expect(bad({ backend: "consul", host: "lab1", tls: { ca: "ca.pem", cert: good.cert } })).toEqual([expect.stringContaining("`docker-overlay:kv.tls.ca`")]);
        expect(bad({ backend: "consul", host: "lab1", tls: { ca: good.ca, cert: good.cert, key: good.key } as never })).toEqual([expect.stringContaining("`docker-overlay:kv.tls.key` is not a known key")]);
    });
});

describe("the Consul agent and the daemons", () => {
    it("the agent: plain HTTP on loopback only, HTTPS asking for a client certificate on the underlay address, one port", () => {
        expect(JSON.parse(consulTlsConfig("10.210.0.12", 8500))).toEqual({
            tls: { https: { ca_file: "/consul/docker-overlay-tls/ca.pem", cert_file: "/consul/docker-overlay-tls/cert.pem", key_file: "/consul/docker-overlay-tls/key.pem", verify_incoming: true } },
            addresses: { http: "127.0.0.1", https: "10.210.0.12" },
            ports: { http: 8500, https: 8500 },
        });
        const kv = { backend: "consul" as const, host: "lab1", servers: ["lab1"], image: "consul", port: 8500, pull: true, acl: false };
        const self = { name: "lab1", address: "10.210.0.11" };
        expect(kvContainerSpec({ ...kv, tls: { ca: good.ca, cert: good.cert } }, "eth0", self, "server", [self]).command).toContain(`-config-file=${CONSUL_TLS_FILE}`);
        expect(kvContainerSpec(kv, "eth0", self, "server", [self]).command.join(" ")).not.toContain("tls");
    });

    it("the daemons' cluster-store-opts name all three files (Docker's store uses TLS only when given all three)", () => {
        expect(daemonTlsOpts()).toEqual({
            "kv.cacertfile": "/etc/docker/docker-overlay-tls/ca.pem",
            "kv.certfile": "/etc/docker/docker-overlay-tls/cert.pem",
            "kv.keyfile": "/etc/docker/docker-overlay-tls/key.pem",
        });
    });
});

describe("the program's own requests (consulAnswers, consulKey) over HTTPS", () => {
    it("present the certificate, trust only the CA, and get nothing from a server the CA did not sign", async () => {
        const seen: unknown[] = [];
        const serve = (m: TlsMaterial) =>
            https.createServer({ ca: good.ca, cert: m.cert, key: m.key, requestCert: true, rejectUnauthorized: true }, (req, res) => {
                seen.push((req.socket as import("node:tls").TLSSocket).getPeerCertificate().subject?.CN);
                res.end(req.url === "/v1/status/leader" ? '"10.210.0.11:8300"' : "lab2");
            });
        const ok = serve(good);
        await new Promise<void>((r) => ok.listen(0, "127.0.0.1", r));
        const impostor = serve(other);
        await new Promise<void>((r) => impostor.listen(0, "127.0.0.1", r));
        try {
            const tls = { ca: good.ca, cert: good.cert, key: good.key };
            const port = (ok.address() as AddressInfo).port;
            expect(await consulAnswers("127.0.0.1", port, { tls })).toBe(true);
            expect(await consulKey("127.0.0.1", port, "docker-overlay/dev/registryServer", { tls, token: "t" })).toBe("lab2");
            expect(seen).toEqual(["consul", "consul"]);
            // Plain HTTP to an HTTPS port, and an HTTPS server with a certificate from another CA: no answer.
            expect(await consulAnswers("127.0.0.1", port, { timeoutMs: 1000 })).toBe(false);
            expect(await consulAnswers("127.0.0.1", (impostor.address() as AddressInfo).port, { tls })).toBe(false);
            // Without a client certificate the server refuses the handshake.
            expect(await consulAnswers("127.0.0.1", port, { tls: { ...tls, cert: "", key: "" } })).toBe(false);
        } finally {
            ok.close();
            impostor.close();
        }
    });
});

describe("docs/consul-tls.md", () => {
    it("its openssl commands, pasted as written, make a pair the stack takes for the addresses it names", () => {
        const doc = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "consul-tls.md"), "utf8");
        const block = /```bash\n([\s\S]*?)```/.exec(doc)![1]!;
        expect(block).toContain("openssl x509 -req");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "docker-overlay-tls-doc-"));
        try {
            execFileSync("bash", ["-euo", "pipefail", "-c", block], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
            const read = (f: string) => fs.readFileSync(path.join(dir, f), "utf8");
            expect(tlsMaterialProblems({ ca: read("ca.pem"), cert: read("consul.pem") }, read("consul-key.pem"))).toEqual([]);
            const names = [...doc.matchAll(/IP:(\d+\.\d+\.\d+\.\d+)/g)].map((m) => m[1]!);
            expect(names).toEqual(["192.168.87.133", "192.168.87.134"]);
            expect(tlsNameProblems(read("consul.pem"), names.map((address) => ({ address, who: "x" })))).toEqual([]);
            expect(tlsNameProblems(read("consul.pem"), [{ address: "192.168.87.135", who: "x" }])).toHaveLength(1);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
