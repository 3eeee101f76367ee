// kv mode on Consul with `kv.acl: true` on three lab hosts: the whole kv flow (up, traffic across
// hosts, restarts, drift, destroy) with Consul's ACLs on and default deny, and what the ACLs
// must give: anonymous requests refused, the daemons and the stack working with the token, the
// token in no process's arguments, not in the state in plain text, and gone from the hosts after
// destroy. Traffic goes only to the lab's own hosts.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type Lab, labExec } from "../../scripts/labStack";
import { type FlowContext, overlayFlow } from "./flow";
import { collector, exportedState, ssh } from "./harness";

const TOKEN = randomUUID();
const ENV_FILE = "/etc/docker/docker-overlay.env";
const DROP_IN = "/etc/systemd/system/docker.service.d/docker-overlay-env.conf";

/** Consul's HTTP API on lab1, from this machine, with TOKEN unless `anonymous`. */
async function consul(ctx: FlowContext, apiPath: string, init: { method?: string; body?: string; anonymous?: boolean } = {}): Promise<{ status: number; text: string }> {
    const res = await fetch(`http://${ctx.lab.hosts[0]!.address}:8500${apiPath}`, {
        method: init.method ?? "GET",
        ...(init.body !== undefined ? { body: init.body } : {}),
        ...(init.anonymous ? {} : { headers: { "X-Consul-Token": TOKEN } }),
        signal: AbortSignal.timeout(30_000),
    });
    return { status: res.status, text: (await res.text()).trim() };
}

/**
 * On a lab host: the /proc/PID entries whose command line holds the token it reads on stdin. Bash
 * pattern matching only, so that the search itself puts the token in no argument; `plant` first
 * starts a process with the token as an argument, to show the search finds one.
 */
function argvHolding(lab: Lab, host: Lab["hosts"][number], plant = false): string[] {
    const script = [
        "read -r t",
        // (two commands, so that bash does not exec sleep in its place)
        ...(plant ? ['bash -c "sleep 20; true" planted "$t" & planted=$!; sleep 0.3'] : []),
        'for f in /proc/[0-9]*/cmdline; do c=$(tr "\\0" " " <"$f" 2>/dev/null) || continue; if [[ $c == *"$t"* ]]; then echo "${f%/cmdline}: ${c%% *}"; fi; done',
        ...(plant ? ['kill "$planted"'] : []),
    ].join("\n");
    return ssh(lab, host, `bash -c '${script.replace(/'/g, "'\\''")}'`, `${TOKEN}\n`).trim().split("\n").filter((l) => l !== "");
}

describe("kv mode with Consul ACLs (kv.acl: true, default deny) on the lab", () => {
    overlayFlow({
        title: "kv-consul-acl",
        stackName: "e2e-acl",
        overrides: { kv: { backend: "consul", host: "lab1", image: "dolab/consul:1.14", pull: false, acl: true } },
        secrets: { consulAclToken: TOKEN },
        scope: "global",
        clusterStore: "consul://10.210.0.11:8500",
        extra: (ctx) => {
            it("Consul refuses anonymous KV reads and writes (403) from a lab host, and lists no key to them; with the token the daemons' and the stack's keys are there", async () => {
                const lab2 = ctx.lab.hosts[1]!;
                const kv = `http://${ctx.lab.hosts[0]!.address}:8500/v1/kv`;
                const curl = (args: string) => ssh(ctx.lab, lab2, `curl -s -o /dev/null -w '%{http_code}' ${args}`).trim();
                const record = `docker-overlay/${ctx.stackName}/mode`;
                expect(curl(`${kv}/${record}`), "anonymous read of a key that exists").toBe("403");
                expect(curl(`-X PUT --data-binary x ${kv}/docker/intruder`), "anonymous write").toBe("403");
                // A listing is filtered by the ACLs: nothing visible is Consul's 404.
                expect(curl(`'${kv}/docker/?recurse=true'`), "anonymous listing").toBe("404");
                expect((await consul(ctx, "/v1/kv/docker/intruder", { anonymous: true })).status).toBe(403);
                // The daemons registered through Consul with the token from their environment file ...
                const nodes = await consul(ctx, "/v1/kv/docker/nodes?recurse=true&keys=true");
                expect(nodes.status, nodes.text).toBe(200);
                // (besides the folder key docker/nodes that Docker's store makes)
                expect((JSON.parse(nodes.text) as string[]).filter((k) => k.startsWith("docker/nodes/")).sort()).toEqual(ctx.lab.hosts.map((h) => `docker/nodes/${h.address}:2376`).sort());
                // ... and the stack's own Consul resources went through with it.
                expect(await consul(ctx, `/v1/kv/${record}?raw`)).toEqual({ status: 200, text: "kv" });
            });

            it("the token is in no process's arguments on any host; dockerd has it in its environment from a 0600 file", () => {
                // The search finds a process that has it (so an empty answer means something).
                expect(argvHolding(ctx.lab, ctx.lab.hosts[0]!, true).some((l) => l.includes("bash"))).toBe(true);
                for (const h of ctx.lab.hosts) {
                    expect(argvHolding(ctx.lab, h), h.name).toEqual([]);
                    expect(ssh(ctx.lab, h, `stat -c '%a %U' ${ENV_FILE}`).trim(), h.name).toBe("600 root");
                    expect(ssh(ctx.lab, h, `cat ${ENV_FILE}`), h.name).toBe(`CONSUL_HTTP_TOKEN=${TOKEN}\n`);
                    const env = ssh(ctx.lab, h, 'tr "\\0" "\\n" </proc/$(/usr/local/sbin/dolab-dockerd pid)/environ');
                    expect(env.split("\n"), h.name).toContain(`CONSUL_HTTP_TOKEN=${TOKEN}`);
                }
            });

            it("the token is not in the state or the engine's output in plain text", async () => {
                const state = exportedState(ctx.stack, ctx.stackName);
                expect(state.length).toBeGreaterThan(10_000);
                const at = state.indexOf(TOKEN);
                expect(at, `the token in plain text in the state: ...${state.slice(Math.max(0, at - 300), at)}`).toBe(-1);
                const out = collector();
                await ctx.stack.preview({ onOutput: out.onOutput, diff: true });
                expect(out.lines.join("")).not.toContain(TOKEN);
            });
        },
        afterDestroy: (lab) => {
            for (const h of lab.hosts) {
                const left = labExec(h.name, "sh", "-c", `ls -d ${ENV_FILE} ${DROP_IN} 2>/dev/null; true`).trim();
                expect(left, `left on ${h.name}`).toBe("");
            }
        },
    });
});
