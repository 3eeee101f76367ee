// How the store runs in its containers: the parts `kv.acl` adds (the mocks check the rest).
import { describe, expect, it } from "vitest";
import { type KvConfig } from "../../components/config";
import { CONSUL_ACL_FILE, consulAclConfig, kvContainerSpec } from "../../components/kvContainer";

const kv = (acl: boolean): KvConfig => ({ backend: "consul", host: "a", servers: ["a"], image: "consul:1.14", port: 8500, pull: true, acl });
const self = { name: "a", address: "10.0.0.1" };
const TOKEN = "5f1c3a5e-7a0b-4c5e-9d47-0c8e2b1f6a90";

describe("Consul with kv.acl", () => {
    it("reads its ACL settings from the uploaded file, and the token is in no argument or variable", () => {
        for (const role of ["server", "client"] as const) {
            const spec = kvContainerSpec(kv(true), "eth0", self, role, [self]);
            expect(spec.command).toContain(`-config-file=${CONSUL_ACL_FILE}`);
            expect(kvContainerSpec(kv(false), "eth0", self, role, [self]).command.filter((w) => w.startsWith("-config-file"))).toEqual([]);
            expect(JSON.stringify(spec)).not.toContain(TOKEN);
        }
    });

    it("servers: default deny, the token as initial management and agent token; clients: the agent token only", () => {
        expect(JSON.parse(consulAclConfig("server", TOKEN))).toEqual({
            acl: { enabled: true, default_policy: "deny", down_policy: "extend-cache", enable_token_persistence: true, tokens: { initial_management: TOKEN, agent: TOKEN } },
        });
        expect(JSON.parse(consulAclConfig("client", TOKEN)).acl.tokens).toEqual({ agent: TOKEN });
        expect(JSON.parse(consulAclConfig("client", TOKEN)).acl.default_policy).toBe("deny");
    });
});
