// Preflight: what the hosts' facts say about the cluster before anything is changed. Pure: no
// Pulumi, no I/O; components/hostProbe.ts gathers the facts over SSH, program.ts turns the
// problems into a failed run. Every problem is one line that names the host(s) and the fix.
import { clusterStoreUrl, type HostConfig, type Mode, type StackConfig } from "./config";
import type { EngineFacts, HostFacts, UserFacts } from "./hostFacts";
import { type TlsName, tlsNameProblems } from "./consulTls";

/** How probing one host ended. */
export type ProbeOutcome =
    | { host: string; kind: "facts"; facts: HostFacts }
    /** No SSH session: the error, with no key material. */
    | { host: string; kind: "unreachable"; error: string }
    /** The host presented another key than `hostKey` pins (fingerprints, SHA256:...). */
    | { host: string; kind: "hostKeyMismatch"; presented: string; pinned: string }
    /** No key is pinned for the host: the key it presented ("ssh-ed25519 AAAA...") and its fingerprint; nothing was run. */
    | { host: string; kind: "hostKeyUnknown"; presented: string; fingerprint: string }
    /** SSH worked, the facts script did not. */
    | { host: string; kind: "failed"; error: string }
    /** `sshPrivateKey` cannot be used (nothing was tried on any host). */
    | { host: string; kind: "badKey"; error: string };

/** What preflight checks a cluster against: the stack file, possibly still `mode: auto`. */
export type PreflightConfig = Pick<StackConfig, "mode" | "hosts" | "kv" | "network">;

/**
 * What Docker's overlay driver takes as the underlay MTU when `network.mtu` is not set. Its
 * `com.docker.network.driver.mtu` option (our `network.mtu`) is that underlay MTU: containers get
 * it minus the VXLAN overhead (libnetwork's overlay `maxMTU`), 1450 by default.
 */
export const DOCKER_DEFAULT_UNDERLAY_MTU = 1500;
/** VXLAN's header on the underlay: outer Ethernet 14 + IP 20 + UDP 8 + VXLAN 8. */
export const VXLAN_OVERHEAD = 50;
/** The cluster flags whose daemon.json keys kv mode writes (`cluster-store-opt` is `cluster-store-opts` there). */
const CLUSTER_OPTIONS_WRITTEN_IN_KV_MODE = ["cluster-store", "cluster-advertise", "cluster-store-opt"];
/** A daemon.json key as the flag it stands for. */
const flagOf = (key: string) => (key === "cluster-store-opts" ? "cluster-store-opt" : key);

/** "a", "a and b", "a, b and c". */
export function listing(items: readonly string[]): string {
    return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

function hostsWord(names: readonly string[]): string {
    return `${names.length === 1 ? "host" : "hosts"} ${listing(names)}`;
}

/** The engine's major version, or undefined when the version does not start with a number. */
export function engineMajor(version: string): number | undefined {
    const m = /^v?(\d+)\./.exec(version.trim());
    return m ? Number(m[1]) : undefined;
}

/** The host the others route to: the KV host in kv mode, the first manager in swarm mode. */
export function hubOf(config: Pick<StackConfig, "hosts" | "kv">, mode: Mode | undefined): HostConfig {
    if (mode !== "swarm" && config.kv) {
        const kvHost = config.hosts.find((h) => h.name === config.kv!.host);
        if (kvHost) return kvHost;
    }
    return config.hosts.find((h) => h.swarmRole === "manager") ?? config.hosts[0]!;
}

/** The peer whose route picks a host's overlay interface: the hub, or for the hub any other host. */
export function routeTargetFor(host: HostConfig, hosts: readonly HostConfig[], hub: HostConfig): string {
    if (host !== hub) return hub.address;
    return hosts.find((h) => h !== host)?.address ?? host.address;
}

/** `mode: auto`: kv when every engine is 22 or older and a KV store is configured, swarm otherwise. */
export function decideMode(config: PreflightConfig, outcomes: readonly ProbeOutcome[]): { mode: Mode | undefined; why: string } {
    if (config.mode !== "auto") return { mode: config.mode, why: `\`mode: ${config.mode}\` in the stack file` };
    const engines = config.hosts.map((h) => {
        const o = outcomes.find((x) => x.host === h.name);
        return { host: h.name, version: o?.kind === "facts" && o.facts.docker.ok ? o.facts.docker.version : undefined };
    });
    const newer = engines.filter((e) => e.version !== undefined && (engineMajor(e.version) ?? 23) >= 23);
    if (newer.length > 0) {
        const runs = newer.map((e) => `${e.host} runs Docker ${e.version}`);
        return { mode: "swarm", why: `${listing(runs)}, and Docker 23.0 removed the KV-store overlay (cluster-store)` };
    }
    const unknown = engines.filter((e) => e.version === undefined).map((e) => e.host);
    if (unknown.length > 0) return { mode: undefined, why: `the engine version of ${listing(unknown)} could not be read` };
    const versions = engines.map((e) => `${e.host} ${e.version}`).join(", ");
    if (!config.kv) return { mode: "swarm", why: `every engine is 22 or older (${versions}) but no \`kv\` store is configured` };
    return { mode: "kv", why: `every engine is 22 or older (${versions}) and \`kv\` is set (${config.kv.backend} on ${config.kv.host})` };
}

function cidrAddress(cidr: string): string {
    return cidr.split("/")[0]!.toLowerCase();
}

/** The parse error of a daemon.json, or undefined when it is a JSON object. */
export function daemonJsonError(content: string): string | undefined {
    if (content.trim() === "") return undefined; // dockerd takes an empty file as no options
    try {
        const v: unknown = JSON.parse(content);
        if (v === null || typeof v !== "object" || Array.isArray(v)) return "it is JSON, but not an object";
        return undefined;
    } catch (e) {
        return (e as Error).message;
    }
}

/**
 * Every problem the facts show, one line each, naming the host(s) and the fix. `mode` is the
 * mode the run will use (undefined: `mode: auto` could not decide; mode-specific checks are
 * then left out, since the unreadable host is a problem of its own).
 */
/** The address host NAME uses on the underlay, as host-facts.sh reads it: the source of its route (undefined: no facts or no route). */
export function underlayAddressOf(config: PreflightConfig, hub: HostConfig, facts: ReadonlyMap<string, HostFacts>, name: string): string | undefined {
    const h = config.hosts.find((x) => x.name === name);
    const target = h && routeTargetFor(h, config.hosts, hub);
    const r = facts.get(name)?.routes.find((x) => x.to === target);
    return r && r.error === "" && r.source !== "" ? r.source : undefined;
}

/**
 * `kv.tls`: every address a TLS client of the store dials must be in the certificate: each
 * server's `hosts[].address` (the stack's Consul provider, from where Pulumi runs) and, in kv
 * mode, the address each daemon's store dials: the server's underlay address (one server), or
 * every host's own (a Consul cluster: each daemon talks to the agent on its host).
 */
export function consulTlsNameProblems(config: PreflightConfig, mode: Mode | undefined, hub: HostConfig, facts: ReadonlyMap<string, HostFacts>): string[] {
    const kv = config.kv;
    if (!kv?.tls) return [];
    const needs: TlsName[] = kv.servers.map((name) => {
        const i = config.hosts.findIndex((h) => h.name === name);
        return { address: config.hosts[i]!.address, who: `the stack's Consul provider: \`hosts[${i}].address\` of ${name}` };
    });
    if (mode === "kv") {
        const dialed = kv.servers.length > 1 ? config.hosts.map((h) => h.name) : [kv.servers[0]!];
        for (const name of dialed) {
            const address = underlayAddressOf(config, hub, facts, name);
            if (address !== undefined) needs.push({ address, who: kv.servers.length > 1 ? `the daemon on ${name}, to its own agent` : `every daemon, to ${name}'s underlay address` });
        }
    }
    return tlsNameProblems(kv.tls.cert, needs);
}

/**
 * kv mode: daemons already on another cluster store than the one this stack gives them (another
 * store of someone's, or this stack's own before `kv` changed, e.g. from `kv.host` to
 * `kv.servers`). The overlay's networks and endpoints live in the store, so moving a daemon loses
 * them: refused, never half-moved. Internal; exported for tests.
 */
export function storeMoveProblems(config: PreflightConfig, hub: HostConfig, facts: ReadonlyMap<string, HostFacts>): string[] {
    const kv = config.kv;
    if (!kv) return [];
    const addressOf = (name: string) => underlayAddressOf(config, hub, facts, name);
    const servers = kv.servers.map(addressOf);
    if (servers.some((a) => a === undefined)) return []; // a server without facts is reported elsewhere
    const problems: string[] = [];
    for (const [name, f] of facts) {
        const dj = f.daemonJson;
        if (!dj.present || "error" in dj || daemonJsonError(dj.content) !== undefined || dj.content.trim() === "") continue;
        const current = (JSON.parse(dj.content) as Record<string, unknown>)["cluster-store"];
        const self = addressOf(name);
        if (typeof current !== "string" || current === "" || self === undefined) continue;
        const planned = clusterStoreUrl(kv, self, servers as string[]);
        if (current === planned) continue;
        problems.push(
            `host ${name}'s daemon is on the cluster store ${current} (its /etc/docker/daemon.json), and this stack would move it to ${planned}. The overlay's networks and endpoints live in the store: a daemon moved to another store loses them, and the containers on them their connections. Fix: to change \`kv\` (say from \`kv.host\` to \`kv.servers\`), run \`pulumi destroy\` first (every daemon goes back as it was), then \`pulumi up\` with the new \`kv\`; or keep \`kv\` as it was`,
        );
    }
    return problems;
}

/**
 * Everything preflight refuses, from the facts of every host, as messages that name the host, say
 * what is wrong and what to do. A table of contents: each kind of check is its own function below.
 */
export function findProblems(config: PreflightConfig, mode: Mode | undefined, outcomes: readonly ProbeOutcome[]): string[] {
    const { problems, facts } = reachProblems(config, mode, outcomes);
    const engines = new Map<string, EngineFacts>();
    for (const [name, f] of facts) if (f.docker.ok) engines.set(name, f.docker);
    const hub = hubOf(config, mode);
    return [
        ...problems,
        ...identityProblems(facts, engines),
        ...engineModeProblems(mode, engines),
        ...underlayProblems(config, hub, facts),
        ...daemonJsonProblems(config, mode, facts),
        ...(mode === "kv" ? storeMoveProblems(config, hub, facts) : []),
        ...consulTlsNameProblems(config, mode, hub, facts),
        ...(mode === "swarm" ? swarmMembershipProblems(hub, engines) : []),
    ];
}

/** `hosts[i].field`, as the user finds it in the stack file. */
function keyOf(config: PreflightConfig, name: string, field: string): string {
    return `\`hosts[${config.hosts.findIndex((h) => h.name === name)}].${field}\``;
}

/** Reaching the hosts: the key, SSH, the host key, the facts script, Docker, the SSH user. Returns the facts of the hosts that answered. */
export function reachProblems(config: PreflightConfig, mode: Mode | undefined, outcomes: readonly ProbeOutcome[]): { problems: string[]; facts: Map<string, HostFacts> } {
    const problems: string[] = [];
    const key = (name: string, field: string) => keyOf(config, name, field);
    const facts = new Map<string, HostFacts>();
    const badKey = outcomes.find((o) => o.kind === "badKey");
    if (badKey?.kind === "badKey")
        problems.push(
            `\`sshPrivateKey\` cannot be used (${badKey.error}), so no host was checked. Fix: store an unencrypted private key file's content: \`pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519\``,
        );
    for (const h of config.hosts) {
        const o = outcomes.find((x) => x.host === h.name);
        const at = `${h.sshUser}@${h.address}:${h.sshPort}`;
        if (o?.kind === "badKey") continue;
        if (!o) {
            problems.push(`host ${h.name} (${at}) was not probed; this is a bug in docker-overlay's preflight`);
        } else if (o.kind === "unreachable") {
            const hint = /authentication/i.test(o.error)
                ? `check ${key(h.name, "sshUser")} and that \`sshPrivateKey\` is authorized there`
                : `check ${key(h.name, "address")} and ${key(h.name, "sshPort")}, that sshd runs there and that this machine can reach it`;
            problems.push(
                `host ${h.name} (${at}) cannot be reached over SSH: ${o.error}. Fix: ${hint}; on a runner that cannot reach the hosts, set \`preflight.enabled: false\``,
            );
        } else if (o.kind === "hostKeyMismatch") {
            problems.push(
                `host ${h.name} (${h.address}:${h.sshPort}) presented the SSH host key ${o.presented}, but the key pinned for it (${key(h.name, "hostKey")}, or \`ssh.knownHostsFile\`) is ${o.pinned}; nothing was run there. Fix: if the host was reinstalled, put its new public key in ${key(h.name, "hostKey")}; otherwise find out what answers at that address`,
            );
        } else if (o.kind === "hostKeyUnknown") {
            problems.push(
                `host ${h.name} (${h.address}:${h.sshPort}) is not known: no key is pinned for it, and it presented ${o.presented} (${o.fingerprint}); nothing was run there. ` +
                    `Fix: if that is its key (compare the fingerprint with \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the host's console), add \`hostKey: ${o.presented}\` under the host \`${h.name}\` in \`docker-overlay:hosts\` ` +
                    `(or point \`ssh.knownHostsFile\` at a known_hosts file that has it); \`ssh.insecureAcceptAnyHostKey: true\` skips the check, on a lab only`,
            );
        } else if (o.kind === "failed") {
            problems.push(`host ${h.name}: the preflight facts script failed: ${o.error}. Fix: make \`bash\`, \`ip\` and \`base64\` available to ${h.sshUser} there`);
        } else {
            facts.set(h.name, o.facts);
            if (!o.facts.docker.ok)
                problems.push(
                    /permission denied/i.test(o.facts.docker.error) && o.facts.user.uid !== 0
                        ? `host ${h.name}: ${h.sshUser} may not use Docker there (${o.facts.docker.error}). Fix: add ${h.sshUser} to the docker group (\`usermod -aG docker ${h.sshUser}\`, then log in again), or use \`sshUser: root\``
                        : o.facts.lockHeld
                          ? `host ${h.name}: Docker is not answering, and another docker-overlay run is still at work there (it holds /run/lock/docker-overlay.lock: a restart of Docker, after a run that was stopped?). Fix: wait until it finishes (at most \`docker.waitSeconds\` and a rollback), then run again`
                          : `host ${h.name}: Docker is not answering (${o.facts.docker.error}). Fix: install or start Docker there (\`systemctl start docker\`), then preview again`,
                );
            problems.push(...userProblems(h, mode, o.facts.user));
        }
    }
    return { problems, facts };
}

/** Identity: hostnames, the daemons' names and engine IDs must differ from host to host. */
export function identityProblems(facts: ReadonlyMap<string, HostFacts>, engines: ReadonlyMap<string, EngineFacts>): string[] {
    const problems: string[] = [];
    const groups = (values: [string, string][]) => {
        const by = new Map<string, string[]>();
        for (const [host, v] of values) if (v !== "") by.set(v, [...(by.get(v) ?? []), host]);
        return [...by].filter(([, hosts]) => hosts.length > 1);
    };
    const hostnameGroups = groups([...facts].map(([n, f]) => [n, f.hostname]));
    for (const [hostname, hosts] of hostnameGroups) {
        const rename = hosts.slice(1);
        problems.push(
            `${hostsWord(hosts)} have the same hostname "${hostname}"; hosts on one overlay need distinct hostnames (classicswarm#1573). Fix: give ${listing(rename)} ${rename.length === 1 ? "its own hostname" : "their own hostnames"} (\`hostnamectl set-hostname NAME\`), then restart Docker there so the daemon registers the new name`,
        );
    }
    const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));
    for (const [name, hosts] of groups([...engines].map(([n, e]) => [n, e.name]))) {
        if (hostnameGroups.some(([, hs]) => sameSet(hs, hosts))) continue; // the hostname problem says it
        const restart = hosts.filter((h) => facts.get(h)!.hostname !== name);
        problems.push(
            `the Docker daemons of ${hostsWord(hosts)} registered the same name "${name}" (dockerd reads the hostname only when it starts). Fix: restart Docker on ${listing(restart.length > 0 ? restart : hosts.slice(1))} after giving each host its own hostname`,
        );
    }
    for (const [id, hosts] of groups([...engines].map(([n, e]) => [n, e.id]))) {
        const fix = hosts.slice(1).map((h) => {
            const major = engineMajor(engines.get(h)!.version);
            return `on ${h}, delete ${major !== undefined && major >= 23 ? "/var/lib/docker/engine-id" : "/etc/docker/key.json"} and restart Docker so it makes a new ID`;
        });
        problems.push(`${hostsWord(hosts)} have the same Docker engine ID ${id}, as cloned machines do (moby#13278). Fix: ${fix.join("; ")}`);
    }
    return problems;
}

/** The engine and the mode: kv mode needs Docker Engine 22 or older. */
export function engineModeProblems(mode: Mode | undefined, engines: ReadonlyMap<string, EngineFacts>): string[] {
    const problems: string[] = [];
    if (mode === "kv") {
        const tooNew = [...engines].filter(([, e]) => (engineMajor(e.version) ?? 23) >= 23);
        if (tooNew.length > 0) {
            const runs = tooNew.map(([h, e]) => `${h} runs ${e.version}`);
            problems.push(
                `kv mode needs Docker Engine 22 or older, but ${listing(runs)}: Docker 23.0 removed the KV-store overlay and a daemon given \`cluster-store\` refuses to start. Fix: use \`mode: swarm\` (or \`mode: auto\`) for this cluster`,
            );
        }
    }
    return problems;
}

/** The underlay: routes between the hosts, the interface each would advertise, the MTU, VXLAN. */
export function underlayProblems(config: PreflightConfig, hub: HostConfig, facts: ReadonlyMap<string, HostFacts>): string[] {
    const problems: string[] = [];
    const hostOf = (name: string) => config.hosts.find((h) => h.name === name)!;
    const key = (name: string, field: string) => keyOf(config, name, field);
    const underlay: [string, string, number][] = [];
    for (const [name, f] of facts) {
        const h = hostOf(name);
        const ifaces = new Map(f.interfaces.map((i) => [i.name, i]));
        const target = routeTargetFor(h, config.hosts, hub);
        for (const peer of config.hosts) {
            if (peer === h) continue;
            const r = f.routes.find((x) => x.to === peer.address);
            if (r && r.error !== "")
                problems.push(`host ${name} has no route to ${peer.name} (${peer.address}): ${r.error}. Fix: the hosts must reach each other at their \`hosts[].address\`; correct the address or the network`);
        }
        const r = f.routes.find((x) => x.to === target);
        if (!r || r.error !== "") continue; // reported above (or a single host without peers)
        const iface = ifaces.get(r.interface);
        const peerName = config.hosts.find((p) => p.address === target)?.name ?? target;
        const via = `its route to ${peerName} (${target}) leaves through ${r.interface}${r.source ? ` from ${r.source}` : ""}`;
        if (!iface || !iface.up || iface.addresses.length === 0 || r.interface === "lo") {
            problems.push(
                `host ${name} would advertise the interface ${r.interface} (${via}), which is ${!iface ? "not one of its interfaces" : r.interface === "lo" ? "the loopback" : !iface.up ? "down" : "without an address"} (docker.machine#3672). Fix: route ${target} through the interface that carries ${name}'s address`,
            );
            continue;
        }
        if (r.source !== "" && !f.interfaces.some((i) => i.addresses.some((a) => cidrAddress(a) === r.source.toLowerCase()))) {
            problems.push(
                `host ${name} would advertise ${r.source} (${via}), which is not an address of any of its interfaces (moby#17248). Fix: route ${target} from an address the host owns, or correct ${key(name, "address")}`,
            );
            continue;
        }
        underlay.push([name, r.interface, iface.mtu]);
    }
    if (underlay.length > 0) {
        const assumed = config.network.mtu ?? DOCKER_DEFAULT_UNDERLAY_MTU;
        const small = underlay.filter(([, , mtu]) => assumed > mtu);
        if (small.length > 0) {
            const most = Math.min(...small.map(([, , mtu]) => mtu));
            const what = config.network.mtu !== undefined ? `\`network.mtu\` ${assumed}` : `Docker's default of ${assumed} (\`network.mtu\` is not set)`;
            const where = small.map(([h, i, mtu]) => `${h}: ${i} MTU ${mtu}`).join("; ");
            problems.push(
                `${what} is more than the underlay carries on ${hostsWord(small.map(([h]) => h))} (${where}): Docker's overlay gives containers ${assumed - VXLAN_OVERHEAD} and adds ${VXLAN_OVERHEAD} bytes of VXLAN, so its largest packets would be fragmented or lost (libnetwork#1021). Fix: set \`network.mtu\` to ${most} or less (the underlay's MTU; containers then get ${most - VXLAN_OVERHEAD})`,
            );
        }
    }
    const noVxlan = [...facts].filter(([, f]) => f.vxlan === "missing").map(([n]) => n);
    if (noVxlan.length > 0)
        problems.push(
            `${hostsWord(noVxlan)} ${noVxlan.length === 1 ? "has" : "have"} no \`vxlan\` kernel module (not loaded, not built in, not in modules.dep); every overlay network would fail with "error creating vxlan interface: operation not supported" (libnetwork#1166). Fix: install the kernel's modules package (on Ubuntu linux-modules-extra-$(uname -r)), then \`modprobe vxlan\``,
        );
    return problems;
}

/** daemon.json and the unit: readable, valid JSON, and no option both as a flag and in the file. */
export function daemonJsonProblems(config: PreflightConfig, mode: Mode | undefined, facts: ReadonlyMap<string, HostFacts>): string[] {
    const problems: string[] = [];
    const hostOf = (name: string) => config.hosts.find((h) => h.name === name)!;
    for (const [name, f] of facts) {
        let keys: string[] = [];
        const dj = f.daemonJson;
        if (dj.present && "error" in dj) {
            problems.push(`host ${name}: /etc/docker/daemon.json cannot be read (${dj.error}). Fix: make it readable by ${hostOf(name).sshUser}`);
        } else if (dj.present) {
            const err = daemonJsonError(dj.content);
            if (err !== undefined)
                problems.push(`host ${name}: /etc/docker/daemon.json is not valid JSON (${err}); dockerd will not start with it. Fix: correct the file (\`python3 -m json.tool /etc/docker/daemon.json\` shows where)`);
            else if (dj.content.trim() !== "") keys = Object.keys(JSON.parse(dj.content) as object).map(flagOf);
        }
        const seen = new Set<string>();
        for (const u of f.unitOptions) {
            const inFile = keys.includes(u.option);
            const written = mode === "kv" && CLUSTER_OPTIONS_WRITTEN_IN_KV_MODE.includes(u.option);
            if ((!inFile && !written) || seen.has(u.option)) continue;
            seen.add(u.option);
            const also = inFile ? "is also set in /etc/docker/daemon.json" : "is what kv mode writes into /etc/docker/daemon.json";
            problems.push(
                `host ${name}: ${u.file} line ${u.line} passes --${u.option}, which ${also}; dockerd refuses to start with an option both as a flag and in daemon.json (moby#25471). Fix: remove the flag from the unit, then \`systemctl daemon-reload\``,
            );
        }
    }
    return problems;
}

/** Swarm membership: the first manager and the others must be in no swarm, or in this one. */
export function swarmMembershipProblems(hub: HostConfig, engines: ReadonlyMap<string, EngineFacts>): string[] {
    const problems: string[] = [];
    const hubEngine = engines.get(hub.name);
    const ours = new Set<string>();
    if (hubEngine?.swarm.state === "active" && hubEngine.swarm.control) {
        for (const id of [hubEngine.swarm.nodeId, hubEngine.swarm.clusterId, ...hubEngine.swarm.managers]) if (id) ours.add(id);
    }
    if (hubEngine?.swarm.state === "active" && !hubEngine.swarm.control)
        problems.push(
            `host ${hub.name}, the first manager, is already a worker in a swarm; it cannot start this cluster's swarm without leaving that one, which docker-overlay never does. Fix: \`docker swarm leave\` on ${hub.name} if it may leave, or make another host the first manager (\`swarmRole\`)`,
        );
    const foreign: string[] = [];
    for (const [name, e] of hubEngine ? engines : []) {
        if (name === hub.name) continue;
        const s = e.swarm;
        if (s.state === "inactive" || s.state === "" || s.state === "locked" || s.state === "error" || s.state === "pending") continue;
        const member = s.state === "active" && ((s.clusterId !== "" && ours.has(s.clusterId)) || s.managers.some((id) => ours.has(id)));
        if (!member) foreign.push(s.state === "active" ? name : `${name} (swarm state ${s.state})`);
    }
    if (foreign.length > 0)
        problems.push(
            `${hostsWord(foreign)} ${foreign.length === 1 ? "is" : "are"} already in a swarm that is not the one of ${hub.name} (the first manager); joining would be refused and docker-overlay never leaves a swarm it did not join. Fix: \`docker swarm leave\` on ${foreign.length === 1 ? "it" : "each"} if it may leave that swarm, or take ${foreign.length === 1 ? "it" : "them"} out of \`hosts\``,
        );
    problems.push(...swarmSettingProblems(engines));
    return problems;
}

export function swarmSettingProblems(engines: ReadonlyMap<string, EngineFacts>): string[] {
    const problems: string[] = [];
    const live = [...engines].filter(([, e]) => e.liveRestore).map(([h]) => h);
    if (live.length > 0)
        problems.push(
            `${hostsWord(live)} ${live.length === 1 ? "runs" : "run"} Docker with live-restore, and Docker refuses swarm mode with it ("--live-restore daemon configuration is incompatible with swarm mode"). ` +
                `Fix: on ${listing(live)}, remove \`"live-restore": true\` from /etc/docker/daemon.json (or the \`--live-restore\` flag from the Docker unit) and restart Docker; or keep live-restore and use \`mode: kv\` on engines of 22 or older`,
        );
    const store = [...engines].filter(([, e]) => e.clusterStore !== "" || e.clusterAdvertise !== "").map(([h, e]) => `${h} (${e.clusterStore || e.clusterAdvertise})`);
    if (store.length > 0)
        problems.push(
            `${hostsWord(store)} ${store.length === 1 ? "runs" : "run"} Docker with a cluster store, and Docker refuses swarm mode with one ("--cluster-store and --cluster-advertise daemon configurations are incompatible with swarm mode"). ` +
                `Fix: take cluster-store and cluster-advertise out of daemon.json (or the unit's flags) and restart Docker there; if a kv-mode stack of docker-overlay set them, \`pulumi destroy --run-program\` that stack first`,
        );
    for (const [h, e] of engines) {
        if (e.swarm.state === "locked")
            problems.push(`host ${h}'s swarm is locked (autolock) and refuses everything until it is unlocked. Fix: \`docker swarm unlock\` on ${h} with the swarm's unlock key, then preview again`);
        else if (e.swarm.state === "error" || e.swarm.state === "pending")
            problems.push(
                `host ${h}'s swarm state is "${e.swarm.state}" (${e.swarm.state === "pending" ? "a join that has not finished" : "its swarm node failed"}): neither init nor join works from there. Fix: look at \`docker info\` on ${h}; \`docker swarm leave --force\` there if it should start afresh`,
            );
    }
    return problems;
}

/** The message of a run that preflight stops. */
export function preflightFailure(stackFile: string, problems: readonly string[]): string {
    return (
        `preflight found ${problems.length === 1 ? "a problem" : `${problems.length} problems`} with the hosts of ${stackFile}; nothing was changed on any host:\n` +
        problems.map((p) => `  - ${p}`).join("\n")
    );
}

/** One line per host for the preview log: what preflight saw. */
export function describeFacts(host: string, f: HostFacts, routeTarget: string): string {
    const r = f.routes.find((x) => x.to === routeTarget);
    const iface = r && f.interfaces.find((i) => i.name === r.interface);
    const engine = f.docker.ok ? `Docker ${f.docker.version}, swarm ${f.docker.swarm.state}` : "Docker not answering";
    const net = r && iface ? `${r.interface} ${r.source} MTU ${iface.mtu}` : "no route";
    return `${host}: hostname ${f.hostname}, ${engine}, ${net}, vxlan ${f.vxlan}`;
}

/** Per host: how many times its Docker started outside the stack (the Rejoin trigger), and whether it did since the last up. */
export interface DaemonEpoch {
    epoch: number;
    restarted: boolean;
}

/**
 * Compares each host's running dockerd with what overlay-rejoin recorded ("<dockerd> <count>"):
 * the same daemon keeps the count; another daemon (Docker started again since, outside the stack:
 * a reboot, a crash, a restart by hand) counts one more. Nothing recorded yet: 0. Hosts whose
 * facts could not be read are left out (preflight fails on them anyway).
 */
export function daemonEpochs(outcomes: readonly ProbeOutcome[]): Record<string, DaemonEpoch> {
    const out: Record<string, DaemonEpoch> = {};
    for (const o of outcomes) {
        if (o.kind !== "facts") continue;
        const m = /^(\S+) (\d+)$/.exec(o.facts.epoch.trim());
        if (!m) out[o.host] = { epoch: 0, restarted: false };
        else if (m[1] === o.facts.dockerd) out[o.host] = { epoch: Number(m[2]), restarted: false };
        else out[o.host] = { epoch: Number(m[2]) + 1, restarted: true };
    }
    return out;
}

/**
 * What the SSH user must be able to do on a host before anything changes there: kv mode writes
 * /etc/docker/daemon.json and restarts Docker (root); both modes keep their records in
 * /var/lib/docker-overlay and take the host lock. Without this a non-root user failed halfway,
 * after the swarm join.
 */
export function userProblems(h: { name: string; sshUser: string }, mode: Mode | undefined, u: UserFacts): string[] {
    if (u.uid === -1 || u.uid === 0) return [];
    const who = `${h.sshUser} (uid ${u.uid})`;
    if (mode === "kv")
        return [
            `host ${h.name}: ${who} is not root, and kv mode writes /etc/docker/daemon.json and restarts Docker there. Fix: \`sshUser: root\` (key-only root login: \`PermitRootLogin prohibit-password\`), or swarm mode, which needs no root`,
        ];
    const out: string[] = [];
    if (!u.stateWritable)
        out.push(
            `host ${h.name}: ${who} cannot write /var/lib/docker-overlay, where docker-overlay records what it did there (so that destroy undoes only that). Fix, once, as root: \`install -d -o ${h.sshUser} -m 0700 /var/lib/docker-overlay\``,
        );
    if (!u.lockWritable)
        out.push(`host ${h.name}: ${who} cannot take the lock /run/lock/docker-overlay.lock. Fix, once, as root: \`touch /run/lock/docker-overlay.lock && chown ${h.sshUser} /run/lock/docker-overlay.lock\` (/run/lock is normally writable by everyone)`);
    return out;
}
