// kv mode on a Consul cluster with `kv.acl: true`, under mocks: where the token goes (and where it
// must not). See harness.ts for what mocks cannot prove; that Consul refuses anonymous requests,
// that the daemons work with the token and that no process shows it are proven on the lab
// (test/e2e/consul-acl.test.ts).
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import * as h from "./harness";

const TOKEN = "5f1c3a5e-7a0b-4c5e-9d47-0c8e2b1f6a90";
const HOSTS = ["node1", "node2", "node3", "node4"];
const CONFIG = {
    mode: "kv",
    hosts: HOSTS.map((name, i) => ({ name, address: `192.168.87.${133 + i}` })),
    kv: { backend: "consul", servers: ["node1", "node2", "node3"], image: "consul:1.14", acl: true },
    network: { name: "my_overlay" },
};

beforeAll(async () => {
    await h.buildCluster(CONFIG, "test", { consulAclToken: pulumi.secret(TOKEN) });
});

describe("kv.acl: true on a Consul cluster", () => {
    it("every agent (servers and the client on node4) gets its ACL file as a secret upload; the token is in no command or variable", () => {
        for (const host of HOSTS) {
            const name = host === "node4" ? "overlay-kv-node4-agent" : `overlay-kv-${host}-server`;
            const c = h.byName(name).inputs;
            expect(c.uploads, name).toHaveLength(1);
            expect(c.uploads[0].file).toBe("/consul/docker-overlay-acl.json");
            expect(c.uploads[0].permissions).toBe("0644");
            const acl = JSON.parse(c.uploads[0].content).acl;
            expect(acl.default_policy).toBe("deny");
            expect(acl.tokens).toEqual(host === "node4" ? { agent: TOKEN } : { initial_management: TOKEN, agent: TOKEN });
            expect(h.secretInputs).toContain(`${name}:uploads`);
            expect(c.command).toContain("-config-file=/consul/docker-overlay-acl.json");
            expect(JSON.stringify([c.command, c.envs])).not.toContain(TOKEN);
        }
    });

    it("every daemon gets the token in its environment file, written before its restart, from a secret script", () => {
        for (const host of HOSTS) {
            const env = h.byName(`overlay-${host}-daemon-config-env`).inputs;
            expect(h.varOf(h.scriptOf(env), "ENV_CONTENT")).toBe(`CONSUL_HTTP_TOKEN=${TOKEN}\n`);
            expect(h.varOf(h.scriptOf(env), "ACTION")).toBe("write");
            expect(h.varOf(h.scriptOf(env, "delete"), "ACTION")).toBe("remove");
            expect(h.secretInputs).toContain(`overlay-${host}-daemon-config-env:stdin`);
            expect(h.declaredNamed(`overlay-${host}-daemon-config-apply`).dependsOn).toEqual([`overlay-${host}-daemon-config-backup`, `overlay-${host}-daemon-config-env`]);
            // The daemon.json holds no token.
            expect(h.scriptOf(h.byName(`overlay-${host}-daemon-config-apply`).inputs)).not.toContain(TOKEN);
        }
    });

    it("the store's waits send the token (their scripts are secrets); the Consul provider uses it", () => {
        const waits = h.recorded.filter((r) => /^overlay-kv-(.*-)?(ready|settled)$/.test(r.name));
        expect(waits.map((w) => w.name).sort()).toEqual(["overlay-kv-node1-ready", "overlay-kv-node2-ready", "overlay-kv-node3-ready", "overlay-kv-node4-ready", "overlay-kv-ready", "overlay-kv-settled"]);
        for (const w of waits) {
            expect(h.varOf(h.scriptOf(w.inputs), "CONSUL_TOKEN"), w.name).toBe(TOKEN);
            expect(h.secretInputs).toContain(`${w.name}:stdin`);
        }
        expect(h.byName("overlay-consul-provider").inputs.token).toBe(TOKEN);
    });
});
