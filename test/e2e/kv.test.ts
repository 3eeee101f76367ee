// kv mode (the seed's recipe) on three lab hosts with etcd as the store: the real engine and
// providers, real daemons restarted with cluster-store, and traffic across hosts.
import { describe } from "vitest";
import { overlayFlow } from "./flow";

describe("kv mode with etcd on the lab", () => {
    overlayFlow({ title: "kv", stackName: "e2e-kv", overrides: {}, scope: "global" });
});
