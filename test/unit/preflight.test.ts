// Preflight's analysis from crafted facts: every problem with its exact message, `mode: auto`,
// and a clean cluster with no problems. Pure: no SSH, no Pulumi.
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig, parseStackConfig, resolveMode, type RawConfig, type StackConfig } from "../../components/config";
import { ownerOf, ownershipProblems } from "../../components/ownership";
import {
    daemonEpochs,
    daemonJsonProblems,
    decideMode,
    engineModeProblems,
    findProblems,
    hubOf,
    identityProblems,
    preflightFailure,
    reachProblems,
    swarmMembershipProblems,
    underlayProblems,
    type ProbeOutcome,
} from "../../components/preflight";
import type { EngineFacts, HostFacts } from "../../components/hostFacts";

const ADDR = { lab1: "10.210.0.11", lab2: "10.210.0.12", lab3: "10.210.0.13" } as const;
type Lab = keyof typeof ADDR;
const NAMES = Object.keys(ADDR) as Lab[];

function raw(over: Partial<RawConfig> = {}): RawConfig {
    return {
        mode: "kv",
        hosts: NAMES.map((name) => ({ name, address: ADDR[name] })),
        kv: { backend: "etcd", host: "lab1" },
        network: { name: "lab_overlay", subnet: "10.220.0.0/24", mtu: 1450 },
        ...over,
    };
}
const stack = (over: Partial<RawConfig> = {}): StackConfig => parseStackConfig(raw(over), "Pulumi.lab.yaml");

/** A healthy lab host as host-facts.sh reports it. */
function hostFacts(name: Lab, engine: Partial<EngineFacts> = {}): HostFacts {
    const own = ADDR[name];
    return {
        hostname: name,
        docker: {
            ok: true,
            version: "20.10.24",
            id: `ID-${name}`,
            name,
            swarm: { state: "inactive", nodeId: "", control: false, clusterId: "", managers: [] },
            liveRestore: false,
            clusterStore: "",
            clusterAdvertise: "",
            ...engine,
        },
        interfaces: [
            { name: "lo", mtu: 65536, up: true, addresses: ["127.0.0.1/8"] },
            { name: "eth0", mtu: 1500, up: true, addresses: [`${own}/24`] },
        ],
        routes: NAMES.map((p) => ({ to: ADDR[p], interface: "eth0", source: own, error: "" })),
        vxlan: "loaded",
        daemonJson: { present: false },
        unitOptions: [],
        dockerd: `boot-1/${1000 + Number(name.slice(3))}`,
        epoch: "",
        owner: "",
        user: { uid: 0, name: "root", stateWritable: true, dockerConfigWritable: true, lockWritable: true },
        lockHeld: false,
        applied: { daemonJsonChanged: false, applyEpoch: 0, swarmMarker: "", joinEpoch: 0 },
    };
}

function lab(change: Partial<Record<Lab, (f: HostFacts) => void>> = {}): ProbeOutcome[] {
    return NAMES.map((name) => {
        const facts = hostFacts(name);
        change[name]?.(facts);
        return { host: name, kind: "facts", facts };
    });
}
const engine = (f: HostFacts) => {
    if (!f.docker.ok) throw new Error("no engine");
    return f.docker;
};

describe("a clean cluster", () => {
    it("has no problems in kv mode", () => {
        expect(findProblems(stack(), "kv", lab())).toEqual([]);
    });
    it("has no problems in swarm mode", () => {
        expect(findProblems(stack({ mode: "swarm", kv: undefined }), "swarm", lab())).toEqual([]);
    });
});

const SAME_HOSTNAME =
    'hosts lab1 and lab2 have the same hostname "lab1"; hosts on one overlay need distinct hostnames (classicswarm#1573). Fix: give lab2 its own hostname (`hostnamectl set-hostname NAME`), then restart Docker there so the daemon registers the new name';

describe("one problem per issue, naming the hosts and the fix", () => {
    it("two hosts with the same hostname", () => {
        expect(findProblems(stack(), "kv", lab({ lab2: (f) => (f.hostname = "lab1") }))).toEqual([SAME_HOSTNAME]);
        // The daemon registered the same name too: still one problem.
        expect(findProblems(stack(), "kv", lab({ lab2: (f) => ((f.hostname = "lab1"), (engine(f).name = "lab1")) }))).toEqual([SAME_HOSTNAME]);
    });

    it("three hosts with one hostname: rename two", () => {
        expect(findProblems(stack(), "kv", lab({ lab2: (f) => (f.hostname = "node"), lab1: (f) => (f.hostname = "node"), lab3: (f) => (f.hostname = "node") }))).toEqual([
            'hosts lab1, lab2 and lab3 have the same hostname "node"; hosts on one overlay need distinct hostnames (classicswarm#1573). Fix: give lab2 and lab3 their own hostnames (`hostnamectl set-hostname NAME`), then restart Docker there so the daemon registers the new name',
        ]);
    });

    it("daemons that registered the same name although the hostnames now differ", () => {
        expect(findProblems(stack(), "kv", lab({ lab2: (f) => (engine(f).name = "lab1") }))).toEqual([
            'the Docker daemons of hosts lab1 and lab2 registered the same name "lab1" (dockerd reads the hostname only when it starts). Fix: restart Docker on lab2 after giving each host its own hostname',
        ]);
    });

    it("the same engine ID (cloned machines), with the file to delete for each engine", () => {
        expect(findProblems(stack(), "kv", lab({ lab3: (f) => (engine(f).id = "ID-lab1") }))).toEqual([
            "hosts lab1 and lab3 have the same Docker engine ID ID-lab1, as cloned machines do (moby#13278). Fix: on lab3, delete /etc/docker/key.json and restart Docker so it makes a new ID",
        ]);
        const swarmStack = stack({ mode: "swarm", kv: undefined });
        expect(findProblems(swarmStack, "swarm", lab({ lab2: (f) => ((engine(f).id = "X"), (engine(f).version = "26.1.0")), lab3: (f) => ((engine(f).id = "X"), (engine(f).version = "26.1.0")) }))).toEqual([
            "hosts lab2 and lab3 have the same Docker engine ID X, as cloned machines do (moby#13278). Fix: on lab3, delete /var/lib/docker/engine-id and restart Docker so it makes a new ID",
        ]);
    });

    it("an engine of 23 or later in kv mode (and not in swarm mode)", () => {
        const newer = lab({ lab2: (f) => (engine(f).version = "24.0.7"), lab3: (f) => (engine(f).version = "25.0.1") });
        expect(findProblems(stack(), "kv", newer)).toEqual([
            "kv mode needs Docker Engine 22 or older, but lab2 runs 24.0.7 and lab3 runs 25.0.1: Docker 23.0 removed the KV-store overlay and a daemon given `cluster-store` refuses to start. Fix: use `mode: swarm` (or `mode: auto`) for this cluster",
        ]);
        expect(findProblems(stack({ mode: "swarm", kv: undefined }), "swarm", newer)).toEqual([]);
        // A version that does not parse is not taken for an old one.
        expect(findProblems(stack(), "kv", lab({ lab1: (f) => (engine(f).version = "dev") }))[0]).toMatch(/^kv mode needs Docker Engine 22 or older, but lab1 runs dev:/);
    });

    it("a host that cannot be reached, a wrong host key, a failed script, a bad key, a stopped daemon", () => {
        const [, two, three] = lab();
        expect(findProblems(stack(), "kv", [{ host: "lab1", kind: "unreachable", error: "connect ECONNREFUSED 10.210.0.11:22" }, two!, three!])).toEqual([
            "host lab1 (root@10.210.0.11:22) cannot be reached over SSH: connect ECONNREFUSED 10.210.0.11:22. Fix: check `hosts[0].address` and `hosts[0].sshPort`, that sshd runs there and that this machine can reach it; on a runner that cannot reach the hosts, set `preflight.enabled: false`",
        ]);
        expect(findProblems(stack(), "kv", [{ host: "lab1", kind: "unreachable", error: "All configured authentication methods failed" }, two!, three!])).toEqual([
            "host lab1 (root@10.210.0.11:22) cannot be reached over SSH: All configured authentication methods failed. Fix: check `hosts[0].sshUser` and that `sshPrivateKey` is authorized there; on a runner that cannot reach the hosts, set `preflight.enabled: false`",
        ]);
        expect(findProblems(stack(), "kv", [{ host: "lab1", kind: "hostKeyMismatch", presented: "SHA256:aaa", pinned: "SHA256:bbb" }, two!, three!])).toEqual([
            "host lab1 (10.210.0.11:22) presented the SSH host key SHA256:aaa, but the key pinned for it (`hosts[0].hostKey`, or `ssh.knownHostsFile`) is SHA256:bbb; nothing was run there. Fix: if the host was reinstalled, put its new public key in `hosts[0].hostKey`; otherwise find out what answers at that address",
        ]);
        expect(findProblems(stack(), "kv", [{ host: "lab1", kind: "hostKeyUnknown", presented: "ssh-ed25519 AAAAC3Nza", fingerprint: "SHA256:ccc" }, two!, three!])).toEqual([
            "host lab1 (10.210.0.11:22) is not known: no key is pinned for it, and it presented ssh-ed25519 AAAAC3Nza (SHA256:ccc); nothing was run there. Fix: if that is its key (compare the fingerprint with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host's console), add `hostKey: ssh-ed25519 AAAAC3Nza` under the host `lab1` in `docker-overlay:hosts` (or point `ssh.knownHostsFile` at a known_hosts file that has it); `ssh.insecureAcceptAnyHostKey: true` skips the check, on a lab only",
        ]);
        expect(findProblems(stack(), "kv", [{ host: "lab1", kind: "failed", error: "exit 127: bash: not found" }, two!, three!])).toEqual([
            "host lab1: the preflight facts script failed: exit 127: bash: not found. Fix: make `bash`, `ip` and `base64` available to root there",
        ]);
        expect(findProblems(stack(), "kv", NAMES.map((host) => ({ host, kind: "badKey" as const, error: "Malformed OpenSSH private key" })))).toEqual([
            "`sshPrivateKey` cannot be used (Malformed OpenSSH private key), so no host was checked. Fix: store an unencrypted private key file's content: `pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`",
        ]);
        expect(findProblems(stack(), "kv", lab({ lab2: (f) => (f.docker = { ok: false, error: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" }) }))).toEqual([
            "host lab2: Docker is not answering (Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?). Fix: install or start Docker there (`systemctl start docker`), then preview again",
        ]);
    });

    it("an advertise address or interface that is not local", () => {
        expect(findProblems(stack(), "kv", lab({ lab2: (f) => (f.routes[0]!.source = "192.0.2.9") }))).toEqual([
            "host lab2 would advertise 192.0.2.9 (its route to lab1 (10.210.0.11) leaves through eth0 from 192.0.2.9), which is not an address of any of its interfaces (moby#17248). Fix: route 10.210.0.11 from an address the host owns, or correct `hosts[1].address`",
        ]);
        expect(findProblems(stack(), "kv", lab({ lab2: (f) => (f.routes[0]!.interface = "ens33") }))).toEqual([
            "host lab2 would advertise the interface ens33 (its route to lab1 (10.210.0.11) leaves through ens33 from 10.210.0.12), which is not one of its interfaces (docker.machine#3672). Fix: route 10.210.0.11 through the interface that carries lab2's address",
        ]);
        expect(findProblems(stack(), "kv", lab({ lab3: (f) => (f.interfaces[1]!.up = false) }))).toEqual([
            "host lab3 would advertise the interface eth0 (its route to lab1 (10.210.0.11) leaves through eth0 from 10.210.0.13), which is down (docker.machine#3672). Fix: route 10.210.0.11 through the interface that carries lab3's address",
        ]);
        // The hub advertises the interface of its route to the next host.
        expect(findProblems(stack(), "kv", lab({ lab1: (f) => (f.routes[1]!.source = "10.9.9.9") }))).toEqual([
            "host lab1 would advertise 10.9.9.9 (its route to lab2 (10.210.0.12) leaves through eth0 from 10.9.9.9), which is not an address of any of its interfaces (moby#17248). Fix: route 10.210.0.12 from an address the host owns, or correct `hosts[0].address`",
        ]);
        expect(findProblems(stack(), "kv", lab({ lab2: (f) => (f.routes[2]!.error = "no route (RTNETLINK answers: Network is unreachable)") }))).toEqual([
            "host lab2 has no route to lab3 (10.210.0.13): no route (RTNETLINK answers: Network is unreachable). Fix: the hosts must reach each other at their `hosts[].address`; correct the address or the network",
        ]);
    });

    it("the same cluster option in daemon.json and in the unit, or in the unit where kv mode writes it", () => {
        const both = (f: HostFacts) => {
            f.daemonJson = { present: true, content: '{"cluster-store": "etcd://10.210.0.11:2379", "cluster-store-opts": {"a": "b"}}' };
            f.unitOptions = [
                { file: "/lib/systemd/system/docker.service", line: 12, option: "cluster-store" },
                { file: "/etc/systemd/system/docker.service.d/kv.conf", line: 3, option: "cluster-store" },
                { file: "/etc/default/docker", line: 2, option: "cluster-store-opt" },
            ];
        };
        const inFile = [
            "host lab2: /lib/systemd/system/docker.service line 12 passes --cluster-store, which is also set in /etc/docker/daemon.json; dockerd refuses to start with an option both as a flag and in daemon.json (moby#25471). Fix: remove the flag from the unit, then `systemctl daemon-reload`",
            "host lab2: /etc/default/docker line 2 passes --cluster-store-opt, which is also set in /etc/docker/daemon.json; dockerd refuses to start with an option both as a flag and in daemon.json (moby#25471). Fix: remove the flag from the unit, then `systemctl daemon-reload`",
        ];
        expect(findProblems(stack(), "kv", lab({ lab2: both }))).toEqual(inFile);
        expect(findProblems(stack({ mode: "swarm", kv: undefined }), "swarm", lab({ lab2: both }))).toEqual(inFile);
        const flagOnly = lab({ lab2: (f) => (f.unitOptions = [{ file: "/etc/default/docker", line: 3, option: "cluster-advertise" }]) });
        expect(findProblems(stack(), "kv", flagOnly)).toEqual([
            "host lab2: /etc/default/docker line 3 passes --cluster-advertise, which is what kv mode writes into /etc/docker/daemon.json; dockerd refuses to start with an option both as a flag and in daemon.json (moby#25471). Fix: remove the flag from the unit, then `systemctl daemon-reload`",
        ]);
        expect(findProblems(stack({ mode: "swarm", kv: undefined }), "swarm", flagOnly)).toEqual([]);
    });

    it("a `network.mtu` (Docker's underlay MTU: containers get 50 less) larger than the underlay's", () => {
        expect(findProblems(stack({ network: { name: "net1", mtu: 1550 } }), "kv", lab())).toEqual([
            "`network.mtu` 1550 is more than the underlay carries on hosts lab1, lab2 and lab3 (lab1: eth0 MTU 1500; lab2: eth0 MTU 1500; lab3: eth0 MTU 1500): Docker's overlay gives containers 1500 and adds 50 bytes of VXLAN, so its largest packets would be fragmented or lost (libnetwork#1021). Fix: set `network.mtu` to 1500 or less (the underlay's MTU; containers then get 1450)",
        ]);
        expect(findProblems(stack({ network: { name: "net1", mtu: 1501 } }), "kv", lab())).toHaveLength(1);
        expect(findProblems(stack({ network: { name: "net1", mtu: 1500 } }), "kv", lab())).toEqual([]);
        expect(findProblems(stack({ network: { name: "net1", mtu: 1450 } }), "kv", lab())).toEqual([]);
        expect(findProblems(stack({ network: { name: "net1" } }), "swarm", lab({ lab3: (f) => (f.interfaces[1]!.mtu = 1450) }))).toEqual([
            "Docker's default of 1500 (`network.mtu` is not set) is more than the underlay carries on host lab3 (lab3: eth0 MTU 1450): Docker's overlay gives containers 1450 and adds 50 bytes of VXLAN, so its largest packets would be fragmented or lost (libnetwork#1021). Fix: set `network.mtu` to 1450 or less (the underlay's MTU; containers then get 1400)",
        ]);
    });

    it("VXLAN unavailable", () => {
        expect(findProblems(stack(), "kv", lab({ lab2: (f) => (f.vxlan = "missing") }))).toEqual([
            'host lab2 has no `vxlan` kernel module (not loaded, not built in, not in modules.dep); every overlay network would fail with "error creating vxlan interface: operation not supported" (libnetwork#1166). Fix: install the kernel\'s modules package (on Ubuntu linux-modules-extra-$(uname -r)), then `modprobe vxlan`',
        ]);
        expect(findProblems(stack(), "kv", lab({ lab2: (f) => (f.vxlan = "loadable"), lab3: (f) => (f.vxlan = "builtin") }))).toEqual([]);
    });

    it("a host already in a different swarm (swarm mode)", () => {
        const swarmStack = stack({ mode: "swarm", kv: undefined });
        const active = (nodeId: string, control: boolean, managers: string[], clusterId = "") => (f: HostFacts) =>
            (engine(f).swarm = { state: "active", nodeId, control, clusterId, managers });
        const foreign =
            "host lab3 is already in a swarm that is not the one of lab1 (the first manager); joining would be refused and docker-overlay never leaves a swarm it did not join. Fix: `docker swarm leave` on it if it may leave that swarm, or take it out of `hosts`";
        // lab1 has no swarm yet: any swarm lab3 is in is someone else's.
        expect(findProblems(swarmStack, "swarm", lab({ lab3: active("n3", false, ["m9"]) }))).toEqual([foreign]);
        // lab1 manages a swarm: its members (by manager or cluster ID) are fine, others are not.
        const ours = active("m1", true, ["m1"], "C1");
        expect(findProblems(swarmStack, "swarm", lab({ lab1: ours, lab2: active("n2", false, ["m1"]), lab3: active("m3", true, ["m1", "m3"], "C1") }))).toEqual([]);
        expect(findProblems(swarmStack, "swarm", lab({ lab1: ours, lab2: active("n2", false, ["m1"]), lab3: active("n3", false, ["m9"]) }))).toEqual([foreign]);
        // A host in the middle of a join is said as such, not as "another swarm".
        expect(findProblems(swarmStack, "swarm", lab({ lab2: (f) => (engine(f).swarm.state = "pending"), lab3: active("n3", false, ["m9"]) }))).toEqual([
            foreign,
            'host lab2\'s swarm state is "pending" (a join that has not finished): neither init nor join works from there. Fix: look at `docker info` on lab2; `docker swarm leave --force` there if it should start afresh',
        ]);
        expect(findProblems(swarmStack, "swarm", lab({ lab1: active("n1", false, ["m9"]) }))).toEqual([
            "host lab1, the first manager, is already a worker in a swarm; it cannot start this cluster's swarm without leaving that one, which docker-overlay never does. Fix: `docker swarm leave` on lab1 if it may leave, or make another host the first manager (`swarmRole`)",
        ]);
        // In kv mode swarm membership is not preflight's business.
        expect(findProblems(stack(), "kv", lab({ lab3: active("n3", false, ["m9"]) }))).toEqual([]);
    });

    it("daemon.json that is not valid JSON (an empty one is fine)", () => {
        expect(findProblems(stack(), "kv", lab({ lab2: (f) => (f.daemonJson = { present: true, content: '{"debug": true,}' }) }))).toEqual([
            "host lab2: /etc/docker/daemon.json is not valid JSON (Expected double-quoted property name in JSON at position 15 (line 1 column 16)); dockerd will not start with it. Fix: correct the file (`python3 -m json.tool /etc/docker/daemon.json` shows where)",
        ]);
        expect(findProblems(stack(), "kv", lab({ lab2: (f) => (f.daemonJson = { present: true, content: "[1]" }) }))[0]).toContain("is not valid JSON (it is JSON, but not an object)");
        expect(findProblems(stack(), "kv", lab({ lab2: (f) => (f.daemonJson = { present: true, content: "\n" }) }))).toEqual([]);
    });

    it("lists every problem in one failure", () => {
        const problems = findProblems(stack(), "kv", lab({ lab2: (f) => (f.hostname = "lab1"), lab3: (f) => (engine(f).id = "ID-lab1") }));
        expect(preflightFailure("Pulumi.lab.yaml", problems)).toBe(
            "preflight found 2 problems with the hosts of Pulumi.lab.yaml; nothing was changed on any host:\n" +
                `  - ${SAME_HOSTNAME}\n` +
                "  - hosts lab1 and lab3 have the same Docker engine ID ID-lab1, as cloned machines do (moby#13278). Fix: on lab3, delete /etc/docker/key.json and restart Docker so it makes a new ID",
        );
    });
});

describe("mode: auto", () => {
    const auto = (over: Partial<RawConfig> = {}) => stack({ mode: "auto", ...over });

    it("chooses kv when every engine is 22 or older and a KV store is set", () => {
        expect(decideMode(auto(), lab({ lab3: (f) => (engine(f).version = "22.06.0-beta.0") }))).toEqual({
            mode: "kv",
            why: "every engine is 22 or older (lab1 20.10.24, lab2 20.10.24, lab3 22.06.0-beta.0) and `kv` is set (etcd on lab1)",
        });
    });

    it("chooses swarm when an engine is 23 or later, naming it", () => {
        expect(decideMode(auto(), lab({ lab2: (f) => (engine(f).version = "23.0.0") }))).toEqual({
            mode: "swarm",
            why: "lab2 runs Docker 23.0.0, and Docker 23.0 removed the KV-store overlay (cluster-store)",
        });
    });

    it("chooses swarm when no KV store is set", () => {
        expect(decideMode(auto({ kv: undefined }), lab())).toEqual({
            mode: "swarm",
            why: "every engine is 22 or older (lab1 20.10.24, lab2 20.10.24, lab3 20.10.24) but no `kv` store is configured",
        });
    });

    it("does not guess when an engine could not be read, unless another already rules kv out", () => {
        const [one, two] = lab();
        const down = { host: "lab3", kind: "unreachable" as const, error: "x" };
        expect(decideMode(auto(), [one!, two!, down])).toEqual({ mode: undefined, why: "the engine version of lab3 could not be read" });
        const newer = lab({ lab1: (f) => (engine(f).version = "27.3.1") });
        expect(decideMode(auto(), [newer[0]!, two!, down]).mode).toBe("swarm");
        // Undecided: the unreachable host is the problem, mode-specific checks wait.
        expect(findProblems(auto(), undefined, [one!, two!, down])).toHaveLength(1);
    });

    it("keeps an explicit mode", () => {
        expect(decideMode(stack(), lab({ lab2: (f) => (engine(f).version = "24.0.7") }))).toEqual({ mode: "kv", why: "`mode: kv` in the stack file" });
    });

    it("applies the chosen mode's own rules to the stack file", () => {
        const why = "lab2 runs Docker 24.0.7, and Docker 23.0 removed the KV-store overlay (cluster-store)";
        expect(() => resolveMode(auto(), "swarm", why, "Pulumi.lab.yaml")).toThrow(ConfigError);
        try {
            resolveMode(auto(), "swarm", why, "Pulumi.lab.yaml");
        } catch (e) {
            expect((e as ConfigError).problems).toEqual([
                '`docker-overlay:kv.backend` is "etcd": `mode: auto` chose swarm (lab2 runs Docker 24.0.7, and Docker 23.0 removed the KV-store overlay (cluster-store)), where `kv` only runs Consul as the service registry; remove `kv`, use `backend: consul`, or set `mode: kv` on engines of 22 or older',
            ]);
        }
        expect(resolveMode(auto({ kv: { host: "lab1" } }), "swarm", why, "Pulumi.lab.yaml").mode).toBe("swarm");
        expect(resolveMode(auto(), "kv", "x", "Pulumi.lab.yaml").mode).toBe("kv");
    });

    it("is accepted by the schema, refused by parseConfig (which cannot see the engines), and a preflight setting has defaults", () => {
        expect(auto().mode).toBe("auto");
        expect(auto().preflight).toEqual({ enabled: true, timeoutSeconds: 20 });
        expect(stack({ preflight: { enabled: false } }).preflight).toEqual({ enabled: false, timeoutSeconds: 20 });
        expect(() => parseConfig(raw({ mode: "auto" }), "Pulumi.lab.yaml")).toThrow('`docker-overlay:mode` is "auto": the choice needs the hosts\' engine versions, which only preflight reads');
        expect(() => parseStackConfig(raw({ preflight: { enabled: true, timeoutSeconds: 0 } }), "Pulumi.lab.yaml")).toThrow("`docker-overlay:preflight.timeoutSeconds` is 0: expected 1 to 300 seconds");
        expect(() => parseStackConfig(raw({ preflight: { enable: true } as never }), "Pulumi.lab.yaml")).toThrow("`docker-overlay:preflight.enable` is not a known key");
        expect(() => parseStackConfig(raw({ mode: "auto", kv: { host: "lab9" } }), "Pulumi.lab.yaml")).toThrow('`docker-overlay:kv.host` is "lab9": expected one of the names in `hosts` (lab1, lab2, lab3)');
    });
});

describe("daemons already on another cluster store (never half-moved)", () => {
    const onStore = (url: string) => (f: HostFacts) => (f.daemonJson = { present: true, content: JSON.stringify({ "cluster-store": url, "log-level": "info" }) });
    const single = "etcd://10.210.0.11:2379";

    it("a daemon already on the store this stack gives it is fine (a second up)", () => {
        expect(findProblems(stack(), "kv", lab({ lab1: onStore(single), lab2: onStore(single), lab3: onStore(single) }))).toEqual([]);
        const three = stack({ kv: { backend: "consul", servers: ["lab1", "lab2", "lab3"] } });
        const own = (n: Lab) => onStore(`consul://${ADDR[n]}:8500`);
        expect(findProblems(three, "kv", lab({ lab1: own("lab1"), lab2: own("lab2"), lab3: own("lab3") }))).toEqual([]);
    });

    it("growing from kv.host to kv.servers on a running stack is refused for every daemon, with what to do", () => {
        const three = stack({ kv: { backend: "etcd", servers: ["lab1", "lab2", "lab3"] } });
        const problems = findProblems(three, "kv", lab({ lab1: onStore(single), lab2: onStore(single), lab3: onStore(single) }));
        expect(problems).toHaveLength(3);
        expect(problems[1]).toBe(
            "host lab2's daemon is on the cluster store etcd://10.210.0.11:2379 (its /etc/docker/daemon.json), and this stack would move it to etcd://10.210.0.11:2379,10.210.0.12:2379,10.210.0.13:2379. The overlay's networks and endpoints live in the store: a daemon moved to another store loses them, and the containers on them their connections. Fix: to change `kv` (say from `kv.host` to `kv.servers`), run `pulumi destroy` first (every daemon goes back as it was), then `pulumi up` with the new `kv`; or keep `kv` as it was",
        );
    });

    it("a daemon on someone else's store is refused too; swarm mode does not look", () => {
        expect(findProblems(stack(), "kv", lab({ lab3: onStore("consul://10.9.9.9:8500") }))).toEqual([expect.stringMatching(/^host lab3's daemon is on the cluster store consul:\/\/10\.9\.9\.9:8500 /)]);
        expect(findProblems(stack({ mode: "swarm", kv: undefined }), "swarm", lab({ lab3: onStore("consul://10.9.9.9:8500") }))).toEqual([]);
    });
});

describe("daemonEpochs: a Docker that started again outside the stack", () => {
    const withEpoch = (dockerd: string, epoch: string): ProbeOutcome => ({ host: "lab1", kind: "facts", facts: { ...hostFacts("lab1"), dockerd, epoch } });
    it("is 0 and not restarted before overlay-rejoin ever ran, or when its record is unreadable", () => {
        expect(daemonEpochs([withEpoch("boot/100", "")])).toEqual({ lab1: { epoch: 0, restarted: false } });
        expect(daemonEpochs([withEpoch("boot/100", "garbage")])).toEqual({ lab1: { epoch: 0, restarted: false } });
    });
    it("keeps the count while the same daemon runs", () => {
        expect(daemonEpochs([withEpoch("boot/100", "boot/100 3")])).toEqual({ lab1: { epoch: 3, restarted: false } });
    });
    it("counts one more, and says so, when another daemon runs (a restart or a reboot since)", () => {
        expect(daemonEpochs([withEpoch("boot/250", "boot/100 3")])).toEqual({ lab1: { epoch: 4, restarted: true } });
        expect(daemonEpochs([withEpoch("boot2/100", "boot/100 0")])).toEqual({ lab1: { epoch: 1, restarted: true } });
    });
    it("leaves out hosts whose facts could not be read", () => {
        expect(daemonEpochs([{ host: "lab2", kind: "unreachable", error: "timeout" }])).toEqual({});
    });
});

describe("ownershipProblems: one stack per host", () => {
    const withOwner = (owners: Partial<Record<Lab, string>>): ProbeOutcome[] =>
        lab().map((o) => (o.kind === "facts" && owners[o.host as Lab] !== undefined ? { ...o, facts: { ...o.facts, owner: owners[o.host as Lab]! } } : o));

    it("passes hosts that no stack or this stack configured", () => {
        expect(ownershipProblems("docker-overlay/prod", withOwner({ lab1: "docker-overlay/prod" }))).toEqual([]);
        expect(ownershipProblems(ownerOf("docker-overlay", "prod"), lab())).toEqual([]);
    });

    it("names each host another stack configured, that stack, and the fix", () => {
        expect(ownershipProblems("docker-overlay/dev", withOwner({ lab1: "docker-overlay/dev", lab2: "docker-overlay/prod", lab3: "other/x" }))).toEqual([
            "host lab2 is configured by the stack docker-overlay/prod, not by this one (docker-overlay/dev): two stacks on one host would adopt each other's backup and swarm membership, and one's destroy would undo the other's work. Fix: manage lab2 from docker-overlay/prod, or run `pulumi destroy --run-program` there first; if that stack is gone for good, remove /var/lib/docker-overlay/owner on lab2",
            expect.stringMatching(/^host lab3 is configured by the stack other\/x, not by this one \(docker-overlay\/dev\)/),
        ]);
    });
});

describe("swarm mode: daemon settings and swarm states Docker refuses swarm init/join with (moby's IsSwarmCompatible)", () => {
    const swarmStack = () => stack({ mode: "swarm", kv: undefined });

    it("live-restore on a host, named with Docker's own words and the fix; not a problem in kv mode", () => {
        const facts = lab({ lab2: (f) => (engine(f).liveRestore = true) });
        expect(findProblems(swarmStack(), "swarm", facts)).toEqual([
            'host lab2 runs Docker with live-restore, and Docker refuses swarm mode with it ("--live-restore daemon configuration is incompatible with swarm mode"). Fix: on lab2, remove `"live-restore": true` from /etc/docker/daemon.json (or the `--live-restore` flag from the Docker unit) and restart Docker; or keep live-restore and use `mode: kv` on engines of 22 or older',
        ]);
        expect(findProblems(stack(), "kv", facts)).toEqual([]);
    });

    it("a cluster store left on hosts, which swarm mode refuses", () => {
        const facts = lab({ lab1: (f) => (engine(f).clusterStore = "consul://10.210.0.11:8500"), lab3: (f) => (engine(f).clusterAdvertise = "eth0:2376") });
        const problems = findProblems(swarmStack(), "swarm", facts);
        expect(problems).toHaveLength(1);
        expect(problems[0]).toMatch(/^hosts lab1 \(consul:\/\/10\.210\.0\.11:8500\) and lab3 \(eth0:2376\) run Docker with a cluster store, and Docker refuses swarm mode with one \("--cluster-store and --cluster-advertise daemon configurations are incompatible with swarm mode"\)\. Fix: /);
    });

    it("a locked swarm, and one in error or pending, each with its own fix (not 'another swarm')", () => {
        const facts = lab({ lab2: (f) => (engine(f).swarm.state = "locked"), lab3: (f) => (engine(f).swarm.state = "pending") });
        expect(findProblems(swarmStack(), "swarm", facts)).toEqual([
            "host lab2's swarm is locked (autolock) and refuses everything until it is unlocked. Fix: `docker swarm unlock` on lab2 with the swarm's unlock key, then preview again",
            'host lab3\'s swarm state is "pending" (a join that has not finished): neither init nor join works from there. Fix: look at `docker info` on lab3; `docker swarm leave --force` there if it should start afresh',
        ]);
    });
});

describe("the SSH user: what up will need, checked before anything changes", () => {
    const asUser = (user: Partial<HostFacts["user"]>) => lab({ lab2: (f) => (f.user = { ...f.user, uid: 1000, name: "deploy", ...user }) });
    const deployStack = (over: Partial<RawConfig> = {}) =>
        stack({ hosts: NAMES.map((n) => ({ name: n, address: ADDR[n], ...(n === "lab2" ? { sshUser: "deploy" } : {}) })), ...over });

    it("kv mode refuses a user that is not root, with the fix", () => {
        expect(findProblems(deployStack(), "kv", asUser({}))).toEqual([
            "host lab2: deploy (uid 1000) is not root, and kv mode writes /etc/docker/daemon.json and restarts Docker there. Fix: `sshUser: root` (key-only root login: `PermitRootLogin prohibit-password`), or swarm mode, which needs no root",
        ]);
    });

    it("swarm mode takes a user in the docker group who can write docker-overlay's state directory", () => {
        expect(findProblems(deployStack({ mode: "swarm", kv: undefined }), "swarm", asUser({}))).toEqual([]);
    });

    it("swarm mode refuses a user who cannot write the state directory or take the lock, saying the one-time fix", () => {
        expect(findProblems(deployStack({ mode: "swarm", kv: undefined }), "swarm", asUser({ stateWritable: false, lockWritable: false }))).toEqual([
            "host lab2: deploy (uid 1000) cannot write /var/lib/docker-overlay, where docker-overlay records what it did there (so that destroy undoes only that). Fix, once, as root: `install -d -o deploy -m 0700 /var/lib/docker-overlay`",
            "host lab2: deploy (uid 1000) cannot take the lock /run/lock/docker-overlay.lock. Fix, once, as root: `touch /run/lock/docker-overlay.lock && chown deploy /run/lock/docker-overlay.lock` (/run/lock is normally writable by everyone)",
        ]);
    });

    it("a Docker that does not answer while another run holds the host lock is said as such", () => {
        const facts = lab({ lab2: (f) => ((f.lockHeld = true), (f.docker = { ok: false, error: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" })) });
        expect(findProblems(stack(), "kv", facts)).toEqual([
            "host lab2: Docker is not answering, and another docker-overlay run is still at work there (it holds /run/lock/docker-overlay.lock: a restart of Docker, after a run that was stopped?). Fix: wait until it finishes (at most `docker.waitSeconds` and a rollback), then run again",
        ]);
    });

    it("a user who may not use Docker is told to join the docker group", () => {
        const facts = lab({ lab2: (f) => ((f.user = { ...f.user, uid: 1000, name: "deploy" }), (f.docker = { ok: false, error: "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock" })) });
        expect(findProblems(deployStack({ mode: "swarm", kv: undefined }), "swarm", facts)[0]).toBe(
            "host lab2: deploy may not use Docker there (permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock). Fix: add deploy to the docker group (`usermod -aG docker deploy`, then log in again), or use `sshUser: root`",
        );
    });
});

// findProblems is a table of contents; each kind of check is a function of its own, tested here
// on its own with the smallest input that trips it (and a clean one that does not).
describe("each kind of check on its own", () => {
    const factsOf = (outcomes: ProbeOutcome[]) => new Map(outcomes.flatMap((o) => (o.kind === "facts" ? [[o.host, o.facts] as const] : [])));
    const enginesOf = (outcomes: ProbeOutcome[]) => new Map([...factsOf(outcomes)].flatMap(([n, f]) => (f.docker.ok ? [[n, f.docker] as const] : [])));

    it("reachProblems: an unreachable host is a problem, and only the hosts that answered give facts", () => {
        const outcomes: ProbeOutcome[] = [...lab().slice(0, 2), { host: "lab3", kind: "unreachable", error: "connect ECONNREFUSED 10.210.0.13:22" }];
        const { problems, facts } = reachProblems(stack(), "kv", outcomes);
        expect([...facts.keys()]).toEqual(["lab1", "lab2"]);
        expect(problems).toHaveLength(1);
        expect(problems[0]).toContain("host lab3 (root@10.210.0.13:22) cannot be reached over SSH: connect ECONNREFUSED 10.210.0.13:22. Fix: check `hosts[2].address` and `hosts[2].sshPort`");
        expect(reachProblems(stack(), "kv", lab()).problems).toEqual([]);
    });

    it("identityProblems: two hosts with one engine ID", () => {
        const outcomes = lab({ lab3: (f) => (engine(f).id = "ID-lab1") });
        expect(identityProblems(factsOf(outcomes), enginesOf(outcomes))).toEqual([expect.stringContaining("lab1 and lab3 have the same Docker engine ID ID-lab1")]);
        expect(identityProblems(factsOf(lab()), enginesOf(lab()))).toEqual([]);
    });

    it("engineModeProblems: kv mode on Engine 23 or newer, and not in swarm mode", () => {
        const outcomes = lab({ lab2: (f) => (engine(f).version = "24.0.7") });
        expect(engineModeProblems("kv", enginesOf(outcomes))).toEqual([expect.stringContaining("kv mode needs Docker Engine 22 or older, but lab2 runs 24.0.7")]);
        expect(engineModeProblems("swarm", enginesOf(outcomes))).toEqual([]);
    });

    it("underlayProblems: an MTU the underlay cannot carry", () => {
        const outcomes = lab({ lab2: (f) => (f.interfaces[1]!.mtu = 1400) });
        const config = stack();
        expect(underlayProblems(config, hubOf(config, "kv"), factsOf(outcomes))).toEqual([expect.stringContaining("`network.mtu` 1450 is more than the underlay carries on host lab2 (lab2: eth0 MTU 1400)")]);
        expect(underlayProblems(config, hubOf(config, "kv"), factsOf(lab()))).toEqual([]);
    });

    it("daemonJsonProblems: daemon.json that is not JSON", () => {
        const outcomes = lab({ lab1: (f) => (f.daemonJson = { present: true, content: '{"debug": tru}' }) });
        expect(daemonJsonProblems(stack(), "kv", factsOf(outcomes))).toEqual([expect.stringContaining("host lab1: /etc/docker/daemon.json is not valid JSON")]);
        expect(daemonJsonProblems(stack(), "kv", factsOf(lab()))).toEqual([]);
    });

    it("swarmMembershipProblems: a host already in another swarm", () => {
        const config = stack({ mode: "swarm", kv: undefined });
        const outcomes = lab({ lab2: (f) => (engine(f).swarm = { state: "active", nodeId: "N2", control: false, clusterId: "OTHER", managers: ["M9"] }) });
        expect(swarmMembershipProblems(hubOf(config, "swarm"), enginesOf(outcomes))).toEqual([expect.stringContaining("lab2 is already in a swarm that is not the one of lab1")]);
        expect(swarmMembershipProblems(hubOf(config, "swarm"), enginesOf(lab()))).toEqual([]);
    });
});
