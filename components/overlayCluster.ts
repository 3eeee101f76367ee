import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { clusterConfigOf, type ClusterSettings } from "./clusterSettings";
import { type ClusterConfig, ConfigError, type HostConfig } from "./config";
import { ConnectivityCheck, ProbeReport } from "./connectivityCheck";
import { DaemonConfig } from "./daemonConfig";
import { DockerHost } from "./dockerHost";
import { Firewall } from "./firewall";
import type { HostFacts, HostSummary } from "./hostFacts";
import { ConsulRegistry } from "./consulRegistry";
import { daemonTlsOpts, tlsMaterialProblems } from "./consulTls";
import { REGISTRY_SERVER_KEY } from "./consulEndpoint";
import { KvStore } from "./kvStore";
import { OverlayNetwork } from "./overlayNetwork";
import { OverlayRejoin } from "./overlayRejoin";
import { ownerOf } from "./ownership";
import { hubOf, routeTargetFor } from "./preflight";
import { Service } from "./service";
import { Swarm } from "./swarm";

/**
 * What `new OverlayCluster(name, args)` takes: the cluster's settings (the same keys and defaults
 * as a stack file's `docker-overlay:` config, checked by the same schema) and its secrets. The
 * settings are plain values, not outputs: they decide which resources exist.
 */
export interface OverlayClusterArgs extends ClusterSettings {
    /** The SSH private key for every host (made a secret). Required. */
    sshPrivateKey: pulumi.Input<string>;
    /** The Consul ACL token the cluster's Consul provider uses (made a secret). Default: none. */
    consulAclToken?: pulumi.Input<string>;
    /** `kv.tls`: the private key of `kv.tls.cert`, PEM (made a secret). Required with `kv.tls`. */
    consulTlsKey?: pulumi.Input<string>;
    /** Names the containers on the hosts (`docker-overlay-<stack>-...`), the Consul key prefix and the owner recorded on each host. Default: the Pulumi stack's name. */
    stack?: string;
    /** A Consul cluster: the server the Consul provider goes through. Default: the first of `kv.servers`. */
    registryServer?: string;
    /** Set by a program that runs preflight (the stack's index.ts); leave unset otherwise. kv mode: how many times each host's Docker started outside the stack. Default: 0 for every host. */
    daemonEpochs?: Record<string, number>;
    /** Set by a program that runs preflight. kv mode: per host, the epoch its daemon configuration runs with; one more than the host recorded re-applies it (drift: components/drift.ts). Default: 0 for every host. */
    applyEpochs?: Record<string, number>;
    /** Set by a program that runs preflight. swarm mode: per host, the epoch its join runs with; one more than recorded joins it again (a host that left). Default: 0 for every host. */
    joinEpochs?: Record<string, number>;
    /** Set by a program that runs preflight: per host, the facts it read in this run, used instead of a facts command on the host (one read per run). Default: each host reads its own once, as a remote command. */
    preflightFacts?: Record<string, HostFacts>;
}

/** The type token; the component's identity in every stack that has one. */
const TYPE = "docker-overlay:cluster:OverlayCluster";

/** What every step of the constructor reads. */
interface Context {
    name: string;
    args: OverlayClusterArgs;
    /** The args' settings, validated, with every default filled in. */
    config: ClusterConfig;
    /** `args.stack`, or the Pulumi stack's name. */
    stack: string;
    /** Names containers on the hosts: `docker-overlay-<stack>`. */
    prefix: string;
    /** `<project>/<stack>`, recorded on each host. */
    owner: string;
    /** The KV host (kv) or the first manager (swarm). */
    hub: HostConfig;
}

/** The hosts once they are ready for the overlay (daemon on the store, or in the swarm). */
interface Converged {
    /** Per host, what its containers wait for. */
    ready: Record<string, pulumi.Resource>;
    /** Per host, what it is after this up (laid over the facts read before). */
    after: Record<string, pulumi.Output<Partial<HostSummary>>>;
    /** kv mode: each host's rejoin (its report holds the new addresses). */
    rejoins: Record<string, OverlayRejoin>;
    /** kv mode: what the first write to the store waits for. */
    hubReady?: pulumi.Resource;
}

// One definition, so that preflight checks the very route this component will use.
export { routeTargetFor };

/**
 * The whole overlay from one validated config. Order comes from dependencies: hosts reachable
 * -> KV store ready (kv) -> the hub's daemon configured or swarm initialised -> network -> each
 * service once its own host is ready -> connectivity check. Hosts are worked on in parallel wherever that order allows.
 */
export class OverlayCluster extends pulumi.ComponentResource {
    public readonly hosts: Record<string, DockerHost>;
    public readonly kvStore?: KvStore;
    /** `firewall: true`: each host's packet filter rules. */
    public readonly firewall?: Firewall;
    /** The stack's Consul as the service registry (Consul backend). */
    public readonly consulRegistry?: ConsulRegistry;
    public readonly network: OverlayNetwork;
    public readonly services: Record<string, Service>;
    public readonly connectivity?: ConnectivityCheck;
    /** Each service's address on the overlay. */
    public readonly serviceAddresses: pulumi.Output<Record<string, string>>;
    /** The `cluster-store` URL (kv mode). */
    public readonly kvUrl: pulumi.Output<string | undefined>;
    /** The Consul web UI (Consul backend). */
    public readonly consulUiUrl: pulumi.Output<string | undefined>;
    /** Every host's probe results. */
    public readonly connectivityReport: pulumi.Output<ProbeReport[] | undefined>;
    /** What each host reported about itself. */
    public readonly hostFacts: pulumi.Output<Record<string, HostSummary>>;

    constructor(name: string, args: OverlayClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const config = this.validate(name, args);
        const stack = args.stack ?? pulumi.getStack();
        const c: Context = {
            name,
            args,
            config,
            stack,
            prefix: `docker-overlay-${stack}`,
            // Who a host belongs to (lib/owner.sh): a second stack on it is refused.
            owner: ownerOf(pulumi.getProject(), stack),
            // Decided where preflight decides it, so that both check and use the same host.
            hub: hubOf(config, config.mode),
        };

        this.hosts = this.connectHosts(c);
        if (config.firewall) this.firewall = new Firewall(`${name}-firewall`, { hosts: this.hosts, config, owner: c.owner }, { parent: this });
        this.kvStore = this.startKvStore(c);
        const converged = config.mode === "kv" ? this.pointDaemonsAtStore(c) : this.joinSwarm(c);
        this.consulRegistry = this.registerInConsul(c, converged);
        this.network = new OverlayNetwork(
            `${name}-net`,
            { network: config.network, attachable: config.mode === "swarm", provider: this.hosts[c.hub.name]!.provider, ready: [converged.hubReady ?? converged.ready[c.hub.name]!] },
            { parent: this },
        );
        this.services = this.runServices(c, converged);
        this.connectivity = this.checkConnectivity(c, converged);

        this.serviceAddresses = pulumi
            .all(Object.fromEntries(Object.entries(this.services).map(([k, s]) => [k, s.overlayAddress])))
            .apply((a) => ({ ...a }));
        this.kvUrl = this.kvStore && config.mode === "kv" ? this.kvStore.url : pulumi.output(undefined);
        this.consulUiUrl = this.kvStore ? this.kvStore.uiUrl : pulumi.output(undefined);
        this.connectivityReport = this.connectivity ? this.connectivity.report : pulumi.output(undefined);
        this.hostFacts = pulumi
            .all(Object.fromEntries(Object.entries(this.hosts).map(([k, h]) => [k, pulumi.all([h.facts, converged.after[k] ?? {}]).apply(([f, now]) => ({ ...f, ...now }))])))
            .apply((f) => ({ ...f }));

        this.registerOutputs({
            serviceAddresses: this.serviceAddresses,
            kvUrl: this.kvUrl,
            consulUiUrl: this.consulUiUrl,
            connectivityReport: this.connectivityReport,
            hostFacts: this.hostFacts,
        });
    }

    /**
     * The settings in ARGS through the stack file's schema (the same messages), before any child
     * exists; warns on every run while host keys go unchecked.
     */
    private validate(name: string, args: OverlayClusterArgs): ClusterConfig {
        // Everything but the secrets and the preflight-fed values is a setting; a key the schema
        // does not know (a misspelling from JavaScript or YAML) is named by it.
        const { sshPrivateKey, consulAclToken, consulTlsKey, stack, registryServer, daemonEpochs, applyEpochs, joinEpochs, preflightFacts, ...settings } = args;
        try {
            const { config, warning } = clusterConfigOf(settings, `OverlayCluster "${name}"`);
            if (warning) pulumi.log.warn(warning, this);
            // The certificates are settings too (the key, an input, is checked by the KvStore).
            const tlsProblems = config.kv?.tls ? tlsMaterialProblems(config.kv.tls, null) : [];
            if (tlsProblems.length > 0) throw new ConfigError(`OverlayCluster "${name}"`, tlsProblems);
            return config;
        } catch (e) {
            // The message says what to fix: no stack trace.
            if (e instanceof ConfigError) throw new pulumi.ResourceError(e.message, this, true);
            throw e;
        }
    }

    /** One DockerHost per host: its SSH connection, its facts, its docker provider. */
    private connectHosts(c: Context): Record<string, DockerHost> {
        const { name, args, config, hub } = c;
        return Object.fromEntries(
            config.hosts.map((h) => [
                h.name,
                new DockerHost(
                    `${name}-${h.name}`,
                    {
                        address: h.address,
                        sshPort: h.sshPort,
                        sshUser: h.sshUser,
                        ...(h.hostKey ? { hostKey: h.hostKey } : { acceptAnyHostKey: config.ssh.insecureAcceptAnyHostKey }),
                        privateKey: args.sshPrivateKey,
                        routeTarget: routeTargetFor(h, config.hosts, hub),
                        ...(args.preflightFacts?.[h.name] ? { facts: args.preflightFacts[h.name] } : {}),
                    },
                    { parent: this },
                ),
            ]),
        );
    }

    /** The store: one container per server; in a Consul cluster, client agents on the other hosts. */
    private startKvStore(c: Context): KvStore | undefined {
        const { name, config, prefix } = c;
        const kvConfig = config.kv;
        if (kvConfig) {
            const kvHost = config.hosts.find((h) => h.name === kvConfig.host)!;
            // The servers; in a Consul cluster every other host runs a client agent (each daemon
            // talks to the agent on its own host: Docker's Consul store takes one address).
            const clients = kvConfig.servers.length > 1 && kvConfig.backend === "consul" ? config.hosts.filter((h) => !kvConfig.servers.includes(h.name)).map((h) => h.name) : [];
            return new KvStore(
                `${name}-kv`,
                {
                    kv: kvConfig,
                    members: [
                        ...kvConfig.servers.map((s) => ({ name: s, host: this.hosts[s]!, role: "server" as const })),
                        ...clients.map((c) => ({ name: c, host: this.hosts[c]!, role: "client" as const })),
                    ],
                    hostAddress: kvHost.address,
                    pull: kvConfig.pull,
                    containerName: `${prefix}-${kvConfig.backend}`,
                    ...(kvConfig.acl && c.args.consulAclToken !== undefined ? { aclToken: c.args.consulAclToken } : {}),
                    ...(kvConfig.tls && c.args.consulTlsKey !== undefined ? { tlsKey: c.args.consulTlsKey } : {}),
                },
                { parent: this },
            );
        }
        return undefined;
    }

    /**
     * kv mode: each host's daemon pointed at the store (servers first, one at a time, then the
     * others), then every host's containers announced again (the rejoin), one host at a time.
     */
    private pointDaemonsAtStore(c: Context): Converged {
        const { name, args, config, owner, hub } = c;
        // Each host ready for the overlay: its daemon pointed at the store. The network waits only
        // for the hub and each service only for its own host, so a host that fails (unreachable,
        // daemon refused) holds back nothing that does not need it: with `pulumi up
        // --continue-on-error` the other hosts converge.
        const ready: Record<string, pulumi.Resource> = {};
        /** What each host is after this up (its facts were read before anything changed). */
        const after: Record<string, pulumi.Output<Partial<HostSummary>>> = {};
        /** Each host's rejoin, whose report holds the new addresses of what it restarted. */
        const rejoins: Record<string, OverlayRejoin> = {};
        /** What the network (the first write to the store) waits for. */
        let hubReady: pulumi.Resource | undefined;
        const kv = this.kvStore!;
        const consulEnv = config.kv!.acl && args.consulAclToken !== undefined ? pulumi.secret(args.consulAclToken).apply((t) => `CONSUL_HTTP_TOKEN=${t}\n`) : undefined;
        // kv.tls: every daemon presents the certificate and trusts the CA (files beside daemon.json).
        const tls = config.kv!.tls && args.consulTlsKey !== undefined ? { ...config.kv!.tls, key: pulumi.secret(args.consulTlsKey) } : undefined;
        const clusterStoreOpts = { ...config.docker.clusterStoreOpts, ...(tls ? daemonTlsOpts() : {}) };
        const configure = (h: HostConfig, dependsOn: pulumi.Resource[]) => {
            const host = this.hosts[h.name]!;
            const clusterStore = kv.urlFor({ name: h.name, host });
            const daemon = new DaemonConfig(
                `${name}-${h.name}-daemon-config`,
                {
                    host,
                    owner,
                    clusterStore,
                    clusterAdvertise: pulumi.interpolate`${host.interface}:${config.docker.advertisePort}`,
                    clusterStoreOpts,
                    restartCommand: config.docker.restartCommand,
                    ...(config.docker.logCommand ? { logCommand: config.docker.logCommand } : {}),
                    waitSeconds: config.docker.waitSeconds,
                    epoch: args.applyEpochs?.[h.name] ?? 0,
                    // kv.acl: Docker's Consul store reads its token from dockerd's environment only.
                    ...(consulEnv ? { environment: consulEnv } : {}),
                    ...(tls ? { tls } : {}),
                },
                { parent: this, dependsOn },
            );
            // The apply waited until the daemon reported this store.
            after[h.name] = pulumi.all([daemon.apply.id, clusterStore]).apply(([, store]) => ({ clusterStore: store }));
            return daemon;
        };
        // Restarting a server's daemon restarts its store container: the servers go one at a
        // time (the KV host, the hub, first), so that a cluster never loses its majority; then
        // the other hosts, one at a time too. A restarted daemon joins the gossip through ONE
        // other daemon listed in the store and, if that one is restarting at that moment,
        // never tries again: in parallel, a host could be left out of the overlay for good
        // (seen on the 5-host lab: lab5 joined through lab4 while lab4 restarted).
        let previous: pulumi.Resource = kv.ready;
        for (const s of config.kv!.servers) {
            const h = config.hosts.find((x) => x.name === s)!;
            previous = ready[h.name] = configure(h, previous === kv.ready ? [kv.ready] : [kv.ready, previous]).apply;
        }
        const lastServer = previous;
        for (const h of config.hosts.filter((x) => !config.kv!.servers.includes(x.name))) previous = ready[h.name] = configure(h, [kv.ready, previous]).apply;
        // A cluster settles after its last server's restart before anything writes to it.
        hubReady = config.kv!.servers.length > 1 ? kv.settledAfter(lastServer) : ready[hub.name];
        // After any Docker restart (outside the stack, or a daemon.json this stack changes),
        // every host's containers on the overlay announce themselves again, each host once its
        // own daemon is ready; services and the connectivity check come after.
        // The generation is made of config alone, never of a host's outputs: a host that fails
        // must not hold back the others (`up --continue-on-error`). What the stack puts into
        // the daemon.json of the hosts it has comes from these keys (a new host restarts only
        // its own daemon, before its containers); a daemon restarted for another reason (a
        // fact of the host changed) is counted by the next preflight.
        // A re-applied daemon configuration (drift) restarts that Docker: the rejoin runs after it too.
        const epochs = config.hosts.map((h) => `${h.name}=${args.daemonEpochs?.[h.name] ?? 0}${args.applyEpochs?.[h.name] ? `.${args.applyEpochs[h.name]}` : ""}`).join(",");
        const daemonInputs = JSON.stringify({
            kv: config.kv,
            servers: config.kv!.servers.map((s) => config.hosts.find((h) => h.name === s)!.address),
            opts: clusterStoreOpts,
            advertisePort: config.docker.advertisePort,
        });
        const generation = pulumi.output(`${epochs};daemon.json ${createHash("sha256").update(daemonInputs).digest("hex").slice(0, 16)}`);
        // One host at a time: restarting containers on several hosts at once left one pair of
        // hosts unable to reach each other, in about one run of four (docs/lab.md).
        let previousRejoin: pulumi.Resource | undefined;
        for (const h of config.hosts) {
            const rejoin = (rejoins[h.name] = new OverlayRejoin(
                `${name}-${h.name}-rejoin`,
                {
                    host: this.hosts[h.name]!,
                    hostName: h.name,
                    owner,
                    network: config.network.name,
                    epoch: args.daemonEpochs?.[h.name] ?? 0,
                    generation,
                    stopSeconds: 10,
                    waitSeconds: config.docker.waitSeconds,
                },
                { parent: this, dependsOn: [...new Set([ready[h.name]!, hubReady]), ...(previousRejoin ? [previousRejoin] : [])] },
            ));
            ready[h.name] = previousRejoin = rejoin.run;
        }
        return { ready, after, rejoins, hubReady };
    }

    /** swarm mode: the first manager initialises the swarm, the others join it. */
    private joinSwarm(c: Context): Converged {
        const { name, args, owner, config } = c;
        const ready: Record<string, pulumi.Resource> = {};
        const after: Record<string, pulumi.Output<Partial<HostSummary>>> = {};
        const swarm = new Swarm(
            `${name}-swarm`,
            { members: config.hosts.map((h) => ({ name: h.name, host: this.hosts[h.name]!, role: h.swarmRole, epoch: args.joinEpochs?.[h.name] ?? 0 })), owner },
            { parent: this },
        );
        Object.assign(ready, swarm.membershipOf);
        // init and join proved each node active in the swarm.
        for (const [host, m] of Object.entries(swarm.membershipOf)) after[host] = m.id.apply(() => ({ swarmState: "active" }));
        return { ready, after, rejoins: {} };
    }

    /** Consul as the registry: after every server's daemon restarted (which restarts its Consul). */
    private registerInConsul(c: Context, converged: Converged): ConsulRegistry | undefined {
        const { name, args, config, stack, prefix } = c;
        const hubReady = converged.hubReady;
        if (this.kvStore && config.kv?.backend === "consul") {
            const via = config.hosts.find((h) => h.name === (args.registryServer ?? config.kv!.host))!;
            return new ConsulRegistry(
                `${name}-consul`,
                {
                    host: this.hosts[via.name]!,
                    hostName: via.name,
                    hostAddress: via.address,
                    nodeAddress: this.hosts[config.kv.host]!.overlayUnderlayAddress,
                    port: config.kv.port,
                    ...(args.consulAclToken ? { aclToken: args.consulAclToken } : {}),
                    ...(config.kv.tls && args.consulTlsKey !== undefined ? { tls: { ...config.kv.tls, key: args.consulTlsKey } } : {}),
                    record: {
                        mode: config.mode,
                        hosts: JSON.stringify(config.hosts.map((h) => ({ name: h.name, address: h.address }))),
                        network: JSON.stringify(config.network),
                        // Read back by the next run, which keeps this server while it answers.
                        ...(config.kv.servers.length > 1 ? { [REGISTRY_SERVER_KEY]: via.name } : {}),
                    },
                    recordPrefix: `docker-overlay/${stack}/`,
                    nodeName: `${prefix}-consul-overlay`,
                    formerlyUnder: { parent: this.kvStore, prefix: `${name}-kv` },
                },
                { parent: this, dependsOn: [config.mode === "kv" ? hubReady! : this.kvStore.ready] },
            );
        }
        return undefined;
    }

    /** Each service on its host, on the network, once its own host is ready. */
    private runServices(c: Context, converged: Converged): Record<string, Service> {
        const { name, args, config } = c;
        const { ready, rejoins } = converged;
        const consulRegistry = this.consulRegistry ? { provider: this.consulRegistry.provider, node: this.consulRegistry.node } : undefined;
        return Object.fromEntries(
            config.services.map((s) => [
                s.name,
                new Service(
                    `${name}-svc-${s.name}`,
                    {
                        service: s,
                        provider: this.hosts[s.host]!.provider,
                        networkName: this.network.name,
                        ...(consulRegistry ? { consul: consulRegistry } : {}),
                        ...(rejoins[s.host] ? { rejoined: rejoins[s.host]!.addresses } : {}),
                        ...(config.mode === "swarm" && args.joinEpochs?.[s.host] ? { joinEpoch: args.joinEpochs[s.host] } : {}),
                    },
                    { parent: this, dependsOn: [this.network, ready[s.host]!] },
                ),
            ]),
        );
    }

    /** A probe per host that reaches every other host's probe by address and by name. */
    private checkConnectivity(c: Context, converged: Converged): ConnectivityCheck | undefined {
        const { name, args, config, prefix } = c;
        const { ready, rejoins } = converged;
        if (config.connectivity.enabled) {
            return new ConnectivityCheck(
                `${name}-connectivity`,
                {
                    hosts: config.hosts.map((h) => ({
                        name: h.name,
                        host: this.hosts[h.name]!,
                        ready: ready[h.name]!,
                        ...(rejoins[h.name] ? { rejoined: rejoins[h.name]!.addresses } : {}),
                        ...(config.mode === "swarm" && args.joinEpochs?.[h.name] ? { joinEpoch: args.joinEpochs[h.name] } : {}),
                    })),
                    networkName: this.network.name,
                    image: config.connectivity.image,
                    pull: config.connectivity.pull,
                    probePrefix: `${prefix}-probe`,
                    after: Object.values(this.services),
                },
                { parent: this, dependsOn: [this.network] },
            );
        }
        return undefined;
    }
}
