// kv mode on a Consul cluster with `kv.tls`, under mocks: where the certificates and the key go
// (and where the key must not). See harness.ts for what mocks cannot prove; that Consul's HTTPS
// asks for the certificate, that Docker's store and the Consul provider speak it, and that the
// overlay works through it are proven on the lab (test/e2e/consul-tls.test.ts).
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTls, type TlsMaterial } from "../fixtures/tls";
import * as h from "./harness";

const HOSTS = ["node1", "node2", "node3", "node4"];
const ADDRESSES = HOSTS.map((_, i) => `192.168.87.${133 + i}`);
let tls: TlsMaterial;
/** The key's body: what must appear in no plain input. */
let keyBody: string;

beforeAll(async () => {
    tls = makeTls({ san: ADDRESSES.map((a) => `IP:${a}`) });
    keyBody = tls.key.split("\n")[1]!;
    const config = {
        mode: "kv",
        hosts: HOSTS.map((name, i) => ({ name, address: ADDRESSES[i] })),
        kv: { backend: "consul", servers: ["node1", "node2", "node3"], image: "consul:1.14", tls: { ca: tls.ca, cert: tls.cert } },
        network: { name: "my_overlay" },
    };
    await h.buildCluster(config, "test", { consulTlsKey: pulumi.secret(tls.key) });
});
afterAll(() => fs.rmSync(tls.dir, { recursive: true, force: true }));

describe("kv.tls on a Consul cluster", () => {
    it("every agent gets its HTTPS settings, the CA, the certificate and the key as uploads (a secret); the key is in no command or variable", () => {
        for (const host of HOSTS) {
            const name = host === "node4" ? "overlay-kv-node4-agent" : `overlay-kv-${host}-server`;
            const c = h.byName(name).inputs;
            const files = Object.fromEntries((c.uploads as { file: string; content: string }[]).map((u) => [u.file, u.content]));
            expect(Object.keys(files).sort(), name).toEqual(["/consul/docker-overlay-tls.json", "/consul/docker-overlay-tls/ca.pem", "/consul/docker-overlay-tls/cert.pem", "/consul/docker-overlay-tls/key.pem"]);
            expect(files["/consul/docker-overlay-tls/key.pem"]).toBe(tls.key);
            expect(files["/consul/docker-overlay-tls/ca.pem"]).toBe(tls.ca);
            // HTTPS on the host's own underlay address: the one its daemon's store dials.
            const store = h.varOf(h.scriptOf(h.byName(`overlay-${host}-daemon-config-apply`).inputs), "EXPECT_CLUSTER_STORE");
            expect(store, host).toMatch(/^consul:\/\/192\.168\.87\.\d+:8500$/);
            expect(JSON.parse(files["/consul/docker-overlay-tls.json"]!).addresses).toEqual({ http: "127.0.0.1", https: store.slice("consul://".length, -":8500".length) });
            expect(h.secretInputs).toContain(`${name}:uploads`);
            expect(c.command).toContain("-config-file=/consul/docker-overlay-tls.json");
            expect(JSON.stringify([c.command, c.envs])).not.toContain(keyBody);
        }
    });

    it("every daemon: the three files written from a secret script before its restart, and cluster-store-opts naming them", () => {
        for (const host of HOSTS) {
            const env = h.byName(`overlay-${host}-daemon-config-env`).inputs;
            expect(h.varOf(h.scriptOf(env), "TLS_KEY")).toBe(tls.key);
            expect(h.varOf(h.scriptOf(env), "TLS_CA")).toBe(tls.ca);
            expect(h.scriptOf(env)).toMatch(/^unset ENV_CONTENT$/m);
            expect(h.secretInputs).toContain(`overlay-${host}-daemon-config-env:stdin`);
            expect(h.declaredNamed(`overlay-${host}-daemon-config-apply`).dependsOn).toContain(`overlay-${host}-daemon-config-env`);
            const apply = h.scriptOf(h.byName(`overlay-${host}-daemon-config-apply`).inputs);
            const daemonJson = JSON.parse(Buffer.from(h.varOf(apply, "CONTENT_BASE64")!, "base64").toString("utf8"));
            expect(daemonJson["cluster-store-opts"]).toMatchObject({
                "kv.cacertfile": "/etc/docker/docker-overlay-tls/ca.pem",
                "kv.certfile": "/etc/docker/docker-overlay-tls/cert.pem",
                "kv.keyfile": "/etc/docker/docker-overlay-tls/key.pem",
            });
            expect(apply).not.toContain(keyBody);
        }
    });

    it("the Consul provider speaks HTTPS with the CA and the certificate, its key a secret", () => {
        const p = h.byName("overlay-consul-provider").inputs;
        expect(p.scheme).toBe("https");
        expect(p.caPem).toBe(tls.ca);
        expect(p.certPem).toBe(tls.cert);
        expect(p.keyPem).toBe(tls.key);
        expect(h.secretInputs).toContain("overlay-consul-provider:keyPem");
        expect(h.secretInputs).not.toContain("overlay-consul-provider:certPem");
    });
});
