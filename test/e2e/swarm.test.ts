// swarm mode on three lab hosts: init, join, an attachable overlay, traffic across hosts, every
// host out of the swarm after destroy, and Consul (on lab1) as the service registry the seed's
// gateway asks, which is what Consul is still for once the engines are on swarm mode.
import { describe, expect } from "vitest";
import { consulRegistryTests } from "./consul";
import { overlayFlow } from "./flow";
import { docker } from "./harness";

describe("swarm mode on the lab, Consul as the registry", () => {
    overlayFlow({
        title: "swarm",
        stackName: "e2e-swarm",
        overrides: { mode: "swarm" },
        scope: "swarm",
        extra: (ctx) => consulRegistryTests(ctx, "swarm"),
        afterDestroy: (lab) => {
            for (const h of lab.hosts) expect(docker(h, ["info", "--format", "{{.Swarm.LocalNodeState}}"]).stdout, h.name).toBe("inactive");
        },
    });
});
