// swarm mode on three lab hosts: init, join, an attachable overlay, traffic across hosts, and
// every host out of the swarm after destroy.
import { describe, expect } from "vitest";
import { overlayFlow } from "./flow";
import { docker } from "./harness";

describe("swarm mode on the lab", () => {
    overlayFlow({
        title: "swarm",
        stackName: "e2e-swarm",
        overrides: { mode: "swarm", kv: undefined },
        scope: "swarm",
        afterDestroy: (lab) => {
            for (const h of lab.hosts) expect(docker(h, ["info", "--format", "{{.Swarm.LocalNodeState}}"]).stdout, h.name).toBe("inactive");
        },
    });
});
