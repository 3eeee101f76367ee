// findDrift: what changed on a host since the last up, decided from preflight's facts (made up
// here). That the facts are read right is tested in hostProbe.test.ts; that up puts the drift
// right on real hosts, in test/e2e (flow.ts for kv, swarm.test.ts).
import { describe, expect, it } from "vitest";
import { findDrift, NO_APPLIED } from "../../components/drift";
import type { HostFacts } from "../../components/hostFacts";
import type { ProbeOutcome } from "../../components/preflight";

const OWNER = "docker-overlay/prod";
function host(name: string, over: { applied?: Partial<HostFacts["applied"]>; owner?: string; swarm?: string } = {}): ProbeOutcome {
    return {
        host: name,
        kind: "facts",
        facts: {
            owner: over.owner ?? OWNER,
            applied: { ...NO_APPLIED, ...over.applied },
            docker: { ok: true, version: "24.0.7", id: name, name, swarm: { state: over.swarm ?? "active", nodeId: "", control: false, clusterId: "", managers: [] }, liveRestore: false, clusterStore: "", clusterAdvertise: "" },
        } as unknown as HostFacts,
    };
}

describe("findDrift", () => {
    it("finds nothing on hosts as the last up left them, and keeps their recorded epochs", () => {
        const d = findDrift("kv", OWNER, "a", [host("a", { applied: { applyEpoch: 2 } }), host("b")]);
        expect(d).toEqual({ applyEpochs: { a: 2, b: 0 }, joinEpochs: { a: 0, b: 0 }, messages: [] });
    });

    it("kv: a daemon.json changed since the last up: one more apply epoch, and says what up will do", () => {
        const d = findDrift("kv", OWNER, "a", [host("a"), host("b", { applied: { daemonJsonChanged: true, applyEpoch: 1 } })]);
        expect(d.applyEpochs).toEqual({ a: 0, b: 2 });
        expect(d.messages).toEqual([
            "docker-overlay: drift on b: /etc/docker/daemon.json is not the file the last up wrote (edited by hand?); up writes docker-overlay's keys again (cluster-store, cluster-advertise, cluster-store-opts), keeps every other key as it is now, and restarts Docker there",
        ]);
    });

    it("is not this stack's business on a host another stack owns (preflight refuses that host anyway)", () => {
        expect(findDrift("kv", OWNER, "a", [host("b", { owner: "other/x", applied: { daemonJsonChanged: true } })]).messages).toEqual([]);
    });

    it("swarm: a node docker-overlay joined that left: one more join epoch; a node it never joined is not drift", () => {
        const d = findDrift("swarm", OWNER, "a", [host("a", { applied: { swarmMarker: "swarm-created" } }), host("b", { swarm: "inactive", applied: { swarmMarker: "swarm-joined" } }), host("c", { swarm: "inactive" })]);
        expect(d.joinEpochs).toEqual({ a: 0, b: 1, c: 0 });
        expect(d.messages).toEqual(["docker-overlay: drift on b: it left the swarm since the last up (docker swarm leave by hand?); up joins it again"]);
    });

    it("swarm: the first manager gone from its swarm is said, with what to do, not healed", () => {
        const d = findDrift("swarm", OWNER, "a", [host("a", { swarm: "inactive", applied: { swarmMarker: "swarm-created" } })]);
        expect(d.joinEpochs).toEqual({ a: 0 });
        expect(d.messages[0]).toMatch(/^docker-overlay: drift on a: the first manager left the swarm docker-overlay created .*run pulumi destroy --run-program, then pulumi up$/);
    });
});
