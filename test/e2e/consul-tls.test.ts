// kv mode on Consul with `kv.tls` on three lab hosts: the whole kv flow (up, traffic across hosts,
// restarts, drift, destroy) with Consul's HTTP API reachable from other machines only over HTTPS
// with a client certificate from the stack's CA, and what that must give: plain HTTP and
// certificate-less HTTPS refused, Docker's store on every daemon speaking TLS (its keys are in
// Consul, and the daemons can have put them there only over HTTPS), the stack's Consul provider
// working over HTTPS, the key in no plain file but root's 0600 ones and not in the state in
// plain text, and gone from the hosts after destroy. Traffic goes only to the lab's own hosts.
import * as fs from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { labExec } from "../../scripts/labStack";
import { makeTls } from "../fixtures/tls";
import { overlayFlow } from "./flow";
import { collector, exportedState, ssh, sshResult } from "./harness";

// The lab's addresses (lab/lab.sh: 10.210.0.1K for labK): every agent serves HTTPS on its own, and
// the provider dials lab1's.
const tls = makeTls({ san: ["IP:10.210.0.11", "IP:10.210.0.12", "IP:10.210.0.13"] });
afterAll(() => fs.rmSync(tls.dir, { recursive: true, force: true }));
const keyBody = tls.key.split("\n").filter((l) => l && !l.startsWith("-----")).join("");
const TLS_DIR = "/etc/docker/docker-overlay-tls";
const CONSUL = "https://10.210.0.11:8500";

describe("kv mode with Consul over HTTPS (kv.tls) on the lab", () => {
    overlayFlow({
        title: "kv-consul-tls",
        stackName: "e2e-tls",
        overrides: { kv: { backend: "consul", host: "lab1", image: "dolab/consul:1.14", pull: false, tls: { ca: tls.ca, cert: tls.cert } } },
        secrets: { consulTlsKey: tls.key },
        scope: "global",
        clusterStore: "consul://10.210.0.11:8500",
        prepareLab: (lab) => {
            // The CA, certificate and key on lab2 for curl below, as a user's admin machine has them.
            for (const f of ["ca.pem", "cert.pem", "key.pem"]) ssh(lab, lab.hosts[1]!, `mkdir -p /root/tls && cat > /root/tls/${f}`, fs.readFileSync(`${tls.dir}/${f}`, "utf8"));
        },
        extra: (ctx) => {
            /** curl on lab2 to Consul on lab1: HTTP status, or curl's exit code when no HTTP answer came. */
            const curl = (args: string) => {
                const r = sshResult(ctx.lab, ctx.lab.hosts[1]!, `curl -s -o /dev/null -w '%{http_code}' --max-time 10 ${args}`);
                return r.status === 0 ? r.stdout.trim() : `exit ${r.status}`;
            };
            const withCert = "--cacert /root/tls/ca.pem --cert /root/tls/cert.pem --key /root/tls/key.pem";

            it("from another host: plain HTTP gets no answer from Consul's API, HTTPS without a client certificate is refused in the handshake, with one from the CA it answers", () => {
                // Consul answers an HTTP request on its HTTPS port with TLS's own refusal (400), never with data.
                expect(curl("http://10.210.0.11:8500/v1/status/leader"), "plain HTTP").toBe("400");
                // 55 or 56 (35 with other TLS libraries): the server ended the handshake, having asked for a certificate that did not come.
                expect(curl(`--cacert /root/tls/ca.pem ${CONSUL}/v1/status/leader`), "no client certificate").toMatch(/^exit (35|55|56)$/);
                // Without the CA, curl does not trust the agent (60: the peer's certificate cannot be verified).
                expect(curl(`--cert /root/tls/cert.pem --key /root/tls/key.pem ${CONSUL}/v1/status/leader`), "no CA").toBe("exit 60");
                expect(curl(`${withCert} ${CONSUL}/v1/status/leader`), "with the certificate").toBe("200");
            });

            it("every daemon's store speaks TLS: each registered itself in Consul, which answers other machines only over HTTPS; its cluster-store-opts name the files, root's and 0600", () => {
                const nodes = ssh(ctx.lab, ctx.lab.hosts[1]!, `curl -sf ${withCert} '${CONSUL}/v1/kv/docker/nodes?recurse=true&keys=true'`);
                expect((JSON.parse(nodes) as string[]).filter((k) => k.startsWith("docker/nodes/")).sort()).toEqual(ctx.lab.hosts.map((h) => `docker/nodes/${h.address}:2376`).sort());
                // The stack's own Consul resources (the provider, over HTTPS) are there too.
                expect(ssh(ctx.lab, ctx.lab.hosts[1]!, `curl -sf ${withCert} '${CONSUL}/v1/kv/docker-overlay/${ctx.stackName}/mode?raw'`)).toBe("kv");
                for (const h of ctx.lab.hosts) {
                    const daemonJson = JSON.parse(ssh(ctx.lab, h, "cat /etc/docker/daemon.json")) as Record<string, Record<string, string>>;
                    expect(daemonJson["cluster-store-opts"], h.name).toMatchObject({ "kv.cacertfile": `${TLS_DIR}/ca.pem`, "kv.certfile": `${TLS_DIR}/cert.pem`, "kv.keyfile": `${TLS_DIR}/key.pem` });
                    expect(ssh(ctx.lab, h, `stat -c '%a %U' ${TLS_DIR} ${TLS_DIR}/ca.pem ${TLS_DIR}/cert.pem ${TLS_DIR}/key.pem`).trim().split("\n"), h.name).toEqual(["700 root", "600 root", "600 root", "600 root"]);
                    expect(ssh(ctx.lab, h, `cat ${TLS_DIR}/key.pem`), h.name).toBe(tls.key);
                    // dockerd said so when it started (moby's libnetwork/config OptionKVOpts).
                    expect(ssh(ctx.lab, h, "grep -c 'Option Initializing KV with TLS' /var/log/dockerd.log || true").trim(), h.name).not.toBe("0");
                }
            });

            it("the key is not in the state or the engine's output in plain text", async () => {
                const state = exportedState(ctx.stack, ctx.stackName);
                expect(state.length).toBeGreaterThan(10_000);
                // The certificate is public and in the state (the check can see PEM there); its key is not.
                expect(state.replace(/\\n/g, "")).toContain(tls.cert.split("\n")[1]!);
                for (const probe of [keyBody, keyBody.slice(0, 40)]) expect(state.replace(/\\n/g, "").includes(probe), "the key in plain text in the state").toBe(false);
                const out = collector();
                await ctx.stack.preview({ onOutput: out.onOutput, diff: true });
                expect(out.lines.join("").replace(/\n/g, "")).not.toContain(keyBody.slice(0, 40));
            });
        },
        afterDestroy: (lab) => {
            for (const h of lab.hosts) {
                const left = labExec(h.name, "sh", "-c", `ls -d ${TLS_DIR} ${TLS_DIR}.old 2>/dev/null; true`).trim();
                expect(left, `left on ${h.name}`).toBe("");
            }
        },
    });
});
