// hostFacts: the one parser of host-facts.sh's line (preview's preflight and `up`'s DockerHost both
// use it) and the summary `up` keeps. Pure: made-up lines; the script itself runs in
// hostProbe.test.ts and test/host-scripts/checks.test.ts.
import { describe, expect, it } from "vitest";
import { parseHostFacts, summarize, type HostFacts } from "../../components/hostFacts";

const b64 = (s: string) => Buffer.from(s).toString("base64");

/** A minimal script output, with `over` merged in. */
function output(over: Record<string, unknown> = {}): string {
    return JSON.stringify({
        hostname: "lab1",
        dockerInfo: { exit: 0, base64: b64(JSON.stringify({ ID: "E:ID", Name: "lab1", ServerVersion: "20.10.24", Swarm: { LocalNodeState: "inactive", NodeID: "", ControlAvailable: false, RemoteManagers: null } })), stderr: "" },
        interfaces: [{ name: "eth0", mtu: 1500, up: true, addresses: ["10.210.0.11/24"] }],
        routes: [{ to: "10.210.0.12", interface: "eth0", source: "10.210.0.11", error: "" }],
        vxlan: "loaded",
        daemonJson: { present: false },
        unitOptions: [],
        ...over,
    });
}

describe("parseHostFacts", () => {
    it("reads the script's line, decoding docker info and daemon.json", () => {
        const info = {
            ID: "AAAA:BBBB",
            Name: "lab2",
            ServerVersion: "24.0.7",
            Swarm: { LocalNodeState: "active", NodeID: "n2", ControlAvailable: false, RemoteManagers: [{ NodeID: "m1", Addr: "10.0.0.1:2377" }] },
        };
        const f = parseHostFacts(output({ dockerInfo: { exit: 0, base64: b64(JSON.stringify(info)), stderr: "" }, daemonJson: { present: true, base64: b64('{"a": 1}\n') } }) + "\n");
        expect(f).toEqual<HostFacts>({
            hostname: "lab1",
            docker: {
                ok: true,
                version: "24.0.7",
                id: "AAAA:BBBB",
                name: "lab2",
                swarm: { state: "active", nodeId: "n2", control: false, clusterId: "", managers: ["m1"] },
                liveRestore: false,
                clusterStore: "",
                clusterAdvertise: "",
            },
            interfaces: [{ name: "eth0", mtu: 1500, up: true, addresses: ["10.210.0.11/24"] }],
            routes: [{ to: "10.210.0.12", interface: "eth0", source: "10.210.0.11", error: "" }],
            vxlan: "loaded",
            daemonJson: { present: true, content: '{"a": 1}\n' },
            unitOptions: [],
            dockerd: "",
            epoch: "",
            owner: "",
            // An older facts script, without the user's line: nothing to refuse on.
            user: { uid: -1, name: "", stateWritable: true, dockerConfigWritable: true, lockWritable: true },
            lockHeld: false,
            applied: { daemonJsonChanged: false, applyEpoch: 0, swarmMarker: "", joinEpoch: 0 },
        });
    });

    it("reads live-restore and the cluster store as the daemon reports them (a flag counts as much as daemon.json)", () => {
        const info = { ID: "X", Name: "lab1", ServerVersion: "20.10.24", LiveRestoreEnabled: true, ClusterStore: "consul://10.0.0.1:8500", ClusterAdvertise: "eth0:2376" };
        const f = parseHostFacts(output({ dockerInfo: { exit: 0, base64: b64(JSON.stringify(info)), stderr: "" } }));
        expect(f.docker).toMatchObject({ ok: true, liveRestore: true, clusterStore: "consul://10.0.0.1:8500", clusterAdvertise: "eth0:2376" });
        // A docker CLI of 23+ leaves ClusterStore out of `docker info` (and may print null).
        const g = parseHostFacts(output({ dockerInfo: { exit: 0, base64: b64(JSON.stringify({ ID: "X", Name: "lab1", ServerVersion: "28.0.1", ClusterStore: null })), stderr: "" } }));
        expect(g.docker).toMatchObject({ ok: true, liveRestore: false, clusterStore: "", clusterAdvertise: "" });
    });

    it("reports a daemon that does not answer with docker's own message", () => {
        const f = parseHostFacts(output({ dockerInfo: { exit: 1, base64: b64('{"ID":"","ServerVersion":""}'), stderr: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" } }));
        expect(f.docker).toEqual({ ok: false, error: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" });
        const g = parseHostFacts(output({ dockerInfo: { exit: 127, base64: "", stderr: "" } }));
        expect(g.docker).toEqual({ ok: false, error: "docker info exited with 127" });
    });

    it("refuses output that is not the script's", () => {
        expect(() => parseHostFacts("bash: ip: command not found")).toThrow(/^its output is not JSON \(.*\): "bash: ip: command not found"$/);
        expect(() => parseHostFacts(output({ vxlan: "maybe" }))).toThrow(/^its output does not have the expected fields \(vxlan: /);
    });
});


describe("summarize: what up keeps of a host", () => {
    const facts = (over: Record<string, unknown> = {}) => parseHostFacts(output({ clusterStore: "consul://10.210.0.11:8500", ...over }));

    it("the route's interface and source, that interface's MTU, the engine", () => {
        expect(summarize(facts(), "10.210.0.12")).toEqual({
            hostname: "lab1",
            engineVersion: "20.10.24",
            interface: "eth0",
            address: "10.210.0.11",
            mtu: 1500,
            swarmState: "inactive",
            engineId: "E:ID",
            clusterStore: "consul://10.210.0.11:8500",
            daemonName: "lab1",
        });
    });

    it("says what to fix when Docker does not answer, the route is missing or unusable", () => {
        const down = facts({ dockerInfo: { exit: 1, base64: "", stderr: "Cannot connect to the Docker daemon" } });
        expect(() => summarize(down, "10.210.0.12")).toThrow("Docker is not answering (Cannot connect to the Docker daemon); install or start Docker (systemctl start docker) and run again");
        expect(() => summarize(facts(), "10.210.0.99")).toThrow("the facts hold no route to 10.210.0.99");
        const noRoute = facts({ routes: [{ to: "10.210.0.12", interface: "", source: "", error: "no route (RTNETLINK answers: Network is unreachable)" }] });
        expect(() => summarize(noRoute, "10.210.0.12")).toThrow("no usable route to 10.210.0.12: no route (RTNETLINK answers: Network is unreachable); check the address and this host's network");
        const gone = facts({ routes: [{ to: "10.210.0.12", interface: "eth9", source: "10.210.0.11", error: "" }] });
        expect(() => summarize(gone, "10.210.0.12")).toThrow("the interface eth9 towards 10.210.0.12 is not among the host's links");
    });

    it("takes the cluster store from the script's own field over docker info's (a 23+ CLI leaves it out there)", () => {
        const info = { ID: "E:ID", Name: "lab1", ServerVersion: "20.10.24", ClusterStore: "etcd://old:2379" };
        const f: HostFacts = parseHostFacts(output({ dockerInfo: { exit: 0, base64: b64(JSON.stringify(info)), stderr: "" }, clusterStore: "consul://10.210.0.11:8500" }));
        expect(summarize(f, "10.210.0.12").clusterStore).toBe("consul://10.210.0.11:8500");
        // An older script without the field: docker info's.
        expect(summarize(parseHostFacts(output({ dockerInfo: { exit: 0, base64: b64(JSON.stringify(info)), stderr: "" } })), "10.210.0.12").clusterStore).toBe("etcd://old:2379");
    });
});
