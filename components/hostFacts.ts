// What a host reports about itself: one script (host-facts.sh), one parser, one type, read by
// preview's preflight (hostProbe.ts, in-process over SSH) and by `up` (DockerHost, a remote
// command), so that both see a host the same way. Pure: no Pulumi, no I/O.
import { z } from "zod";
import type { AppliedFacts } from "./drift";
import { NO_APPLIED } from "./drift";

/** One network interface of a host. */
export interface InterfaceFacts {
    name: string;
    mtu: number;
    /** IFF_UP. */
    up: boolean;
    /** "10.210.0.11/24", "fd00::2/64". */
    addresses: string[];
}

/** `ip route get PEER` on a host: the interface and source address it would use. */
export interface RouteFacts {
    to: string;
    interface: string;
    source: string;
    /** Why there is no usable route ("" when there is one). */
    error: string;
}

export interface SwarmFacts {
    /** `inactive`, `pending`, `active`, `error` or `locked`. */
    state: string;
    nodeId: string;
    /** A manager (ControlAvailable). */
    control: boolean;
    /** Only managers know it. */
    clusterId: string;
    /** Node IDs of the swarm's managers, as this node knows them. */
    managers: string[];
}

export interface EngineFacts {
    version: string;
    /** `docker info` ID: from /etc/docker/key.json up to 22.x, /var/lib/docker/engine-id after. */
    id: string;
    /** The name the daemon registered (the hostname when dockerd started). */
    name: string;
    swarm: SwarmFacts;
    /** The daemon runs with live-restore (daemon.json or `--live-restore`), which swarm mode refuses. */
    liveRestore: boolean;
    /** The daemon's cluster-store and cluster-advertise ("" when unset, or not reported by a docker CLI of 23+). */
    clusterStore: string;
    clusterAdvertise: string;
}

/** What `host-facts.sh` reports about a host, parsed. */
export interface HostFacts {
    /** `uname -n`. */
    hostname: string;
    docker: ({ ok: true } & EngineFacts) | { ok: false; error: string };
    interfaces: InterfaceFacts[];
    routes: RouteFacts[];
    vxlan: "loaded" | "builtin" | "loadable" | "missing";
    daemonJson: { present: false } | { present: true; content: string } | { present: true; error: string };
    /** Active unit lines passing a cluster option as a flag. */
    unitOptions: { file: string; line: number; option: string }[];
    /** Which dockerd runs ("<boot ID>/<start ticks>", "" when none): it changes with every start of Docker. */
    dockerd: string;
    /** What overlay-rejoin recorded the last time it ran: "<dockerd> <count>", "" when it never did. */
    epoch: string;
    /** The stack ("<project>/<stack>") recorded as this host's owner, "" when none (lib/owner.sh). */
    owner: string;
    /** Who the SSH user is there, and what it may write (what `up` will need, checked before anything changes). */
    user: UserFacts;
    /** Another docker-overlay script holds the host lock (lib/owner.sh) right now. */
    lockHeld: boolean;
    /** What the host scripts recorded of their last run there: drift (components/drift.ts). */
    applied: AppliedFacts;
}

export interface UserFacts {
    /** `id -u` (-1: not reported, by an older facts script). */
    uid: number;
    name: string;
    /** docker-overlay's state directory (/var/lib/docker-overlay) exists and is writable, or can be made. */
    stateWritable: boolean;
    /** /etc/docker/daemon.json can be written (kv mode). */
    dockerConfigWritable: boolean;
    /** The host lock (/run/lock/docker-overlay.lock) can be taken. */
    lockWritable: boolean;
}

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, "expected base64");
const rawFacts = z.object({
    hostname: z.string(),
    dockerInfo: z.object({ exit: z.number().int(), base64: b64, stderr: z.string() }),
    interfaces: z.array(z.object({ name: z.string(), mtu: z.number().int(), up: z.boolean(), addresses: z.array(z.string()) })),
    routes: z.array(z.object({ to: z.string(), interface: z.string(), source: z.string(), error: z.string() })),
    vxlan: z.enum(["loaded", "builtin", "loadable", "missing"]),
    daemonJson: z.union([
        z.object({ present: z.literal(false) }),
        z.object({ present: z.literal(true), base64: b64 }),
        z.object({ present: z.literal(true), base64: z.null(), error: z.string() }),
    ]),
    unitOptions: z.array(z.object({ file: z.string(), line: z.number().int(), option: z.string() })),
    dockerd: z.string().default(""),
    epoch: z.string().default(""),
    owner: z.string().default(""),
    user: z
        .object({ uid: z.number().int(), name: z.string(), stateWritable: z.boolean(), dockerConfigWritable: z.boolean(), lockWritable: z.boolean() })
        .default({ uid: -1, name: "", stateWritable: true, dockerConfigWritable: true, lockWritable: true }),
    lockHeld: z.boolean().default(false),
    /** The daemon's cluster store, asked through dial-stdio when the CLI does not show it (absent: an older script). */
    clusterStore: z.string().optional(),
    applied: z
        .object({
            daemonJsonChanged: z.boolean(),
            applyEpoch: z.number().int().nonnegative(),
            swarmMarker: z.enum(["", "swarm-created", "swarm-joined"]),
            joinEpoch: z.number().int().nonnegative(),
        })
        .default(() => ({ ...NO_APPLIED })),
});

/** The parts of `docker info --format '{{json .}}'` preflight reads (20.10 and 28 print them alike). */
const dockerInfo = z.object({
    LiveRestoreEnabled: z.boolean().default(false),
    ClusterStore: z.string().nullish(),
    ClusterAdvertise: z.string().nullish(),
    ID: z.string().default(""),
    Name: z.string().default(""),
    ServerVersion: z.string().default(""),
    ServerErrors: z.array(z.string()).nullish(),
    Swarm: z
        .object({
            LocalNodeState: z.string().default(""),
            NodeID: z.string().default(""),
            ControlAvailable: z.boolean().default(false),
            Cluster: z.object({ ID: z.string().default("") }).nullish(),
            RemoteManagers: z.array(z.object({ NodeID: z.string() })).nullish(),
        })
        .nullish(),
});

/** Parses the JSON line of `host-facts.sh`; throws an Error saying what is wrong. */
export function parseHostFacts(stdout: string): HostFacts {
    let json: unknown;
    try {
        json = JSON.parse(stdout.trim());
    } catch (e) {
        throw new Error(`its output is not JSON (${(e as Error).message}): ${JSON.stringify(stdout.slice(0, 200))}`);
    }
    const r = rawFacts.safeParse(json);
    if (!r.success) throw new Error(`its output does not have the expected fields (${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")})`);
    const raw = r.data;

    let docker: HostFacts["docker"];
    const infoText = Buffer.from(raw.dockerInfo.base64, "base64").toString("utf8");
    let info: z.infer<typeof dockerInfo> | undefined;
    try {
        const parsed = dockerInfo.safeParse(JSON.parse(infoText));
        if (parsed.success) info = parsed.data;
    } catch {
        info = undefined;
    }
    if (raw.dockerInfo.exit === 0 && info && info.ID !== "" && info.ServerVersion !== "") {
        const s = info.Swarm;
        docker = {
            ok: true,
            version: info.ServerVersion,
            id: info.ID,
            name: info.Name,
            liveRestore: info.LiveRestoreEnabled,
            clusterStore: raw.clusterStore ?? info.ClusterStore ?? "",
            clusterAdvertise: info.ClusterAdvertise ?? "",
            swarm: {
                state: s?.LocalNodeState ?? "",
                nodeId: s?.NodeID ?? "",
                control: s?.ControlAvailable ?? false,
                clusterId: s?.Cluster?.ID ?? "",
                managers: (s?.RemoteManagers ?? []).map((m) => m.NodeID).filter((id) => id !== ""),
            },
        };
    } else {
        const why = raw.dockerInfo.stderr || info?.ServerErrors?.join("; ") || `docker info exited with ${raw.dockerInfo.exit}`;
        docker = { ok: false, error: why };
    }
    const dj = raw.daemonJson;
    return {
        hostname: raw.hostname,
        docker,
        interfaces: raw.interfaces,
        routes: raw.routes,
        vxlan: raw.vxlan,
        daemonJson: !dj.present ? { present: false } : dj.base64 === null ? { present: true, error: (dj as { error: string }).error } : { present: true, content: Buffer.from(dj.base64, "base64").toString("utf8") },
        unitOptions: raw.unitOptions,
        dockerd: raw.dockerd,
        epoch: raw.epoch,
        owner: raw.owner,
        user: raw.user,
        lockHeld: raw.lockHeld,
        applied: raw.applied,
    };
}


/** What `up` keeps of a host's facts (the stack's `hosts` output): its engine and its underlay towards the peers. */
export interface HostSummary {
    /** `uname -n`. */
    hostname: string;
    engineVersion: string;
    /** The interface that routes to the peer (never assumed to be eth0 or ens33). */
    interface: string;
    /** This host's address on that interface. */
    address: string;
    /** That interface's MTU. */
    mtu: number;
    /** `inactive`, `active`, ... */
    swarmState: string;
    engineId: string;
    /** The daemon's `cluster-store` ("" when none). */
    clusterStore: string;
    /** The name the daemon registered (docker info .Name), which dockerd rereads only when it restarts. */
    daemonName: string;
}

/**
 * The summary `up` needs of a host, with its underlay towards PEER (the route host-facts.sh was
 * asked for). Throws an Error that says what to fix when the facts lack it (Docker not answering,
 * no route): host-facts.sh run with STRICT=1 fails first with the same meaning.
 */
export function summarize(facts: HostFacts, peer: string): HostSummary {
    if (!facts.docker.ok) throw new Error(`Docker is not answering (${facts.docker.error}); install or start Docker (systemctl start docker) and run again`);
    const route = facts.routes.find((r) => r.to === peer);
    if (!route) throw new Error(`the facts hold no route to ${peer}`);
    if (route.error !== "") throw new Error(`no usable route to ${peer}: ${route.error}; check the address and this host's network`);
    const link = facts.interfaces.find((i) => i.name === route.interface);
    if (!link) throw new Error(`the interface ${route.interface} towards ${peer} is not among the host's links`);
    const d = facts.docker;
    return {
        hostname: facts.hostname,
        engineVersion: d.version,
        interface: route.interface,
        address: route.source,
        mtu: link.mtu,
        swarmState: d.swarm.state,
        engineId: d.id,
        clusterStore: d.clusterStore,
        daemonName: d.name,
    };
}
