// kv mode (the seed's recipe) on three lab hosts with the seed's store, Consul, on lab1: the real
// engine and providers, real daemons restarted with cluster-store consul://, traffic across
// hosts, the seed's gateway finding service a in Consul, and the @pulumi/consul resources
// against the real Consul server.
import { describe } from "vitest";
import { consulRegistryTests } from "./consul";
import { overlayFlow } from "./flow";

describe("kv mode with Consul on the lab (the seed)", () => {
    overlayFlow({
        title: "kv-consul",
        stackName: "e2e-kv",
        overrides: {},
        scope: "global",
        clusterStore: "consul://10.210.0.11:8500",
        extra: (ctx) => consulRegistryTests(ctx, "kv"),
    });
});
