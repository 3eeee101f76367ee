import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { clusterStoreUrl, KvBackend, KvConfig } from "./config";
import { tlsMaterialProblems } from "./consulTls";
import { DockerHost } from "./dockerHost";
import { CONSUL_ACL_FILE, CONSUL_TLS_DIR, CONSUL_TLS_FILE, consulAclConfig, consulTlsConfig, kvContainerSpec, KvPeer, KvRole } from "./kvContainer";
import { scriptedCommandArgs } from "./remoteScript";
import { renderScript } from "./hostScripts";

/** `{ uploads }`, or nothing when there is none. */
function uploadsOrNothing(uploads: docker.types.input.ContainerUpload[]): { uploads?: docker.types.input.ContainerUpload[] } {
    return uploads.length > 0 ? { uploads } : {};
}

/** One host of the store. */
export interface KvMember {
    /** Its name in the stack (`hosts[].name`). */
    name: string;
    host: DockerHost;
    role: KvRole;
}

export interface KvStoreArgs {
    /** Which store, its image, port and servers. */
    kv: KvConfig;
    /** Every host of the store: the servers in `kv.servers` order, then (a Consul cluster) the client agents. */
    members: KvMember[];
    /** The first server's SSH address (the Consul UI is there). */
    hostAddress: string;
    /** Pull the image (false: it must already be on the hosts). */
    pull: boolean;
    /** Name of the store's container on each host. */
    containerName: string;
    /** `kv.acl`: Consul's management token (a secret), given to every agent in a file and used by the waits. */
    aclToken?: pulumi.Input<string>;
    /** `kv.tls`: the private key of `kv.tls.cert` (a secret), given to every agent in a file. */
    tlsKey?: pulumi.Input<string>;
}

/**
 * The key-value store behind the legacy overlay, run as the seed runs Consul: in containers on the
 * host network, bound to each host's detected interface, with a data volume and `restart: always`.
 * One server (`kv.host`), or a cluster (`kv.servers`, 3 or 5): Consul servers that form one Raft
 * cluster (`bootstrap-expect`, `retry-join` over the servers' underlay addresses) with a Consul
 * client agent on every other host, or an etcd cluster. etcd (v2 API on) is the alternative to
 * Consul (ZooKeeper, which Docker also accepts, is refused by the config: see ZOOKEEPER_REFUSED).
 */
export class KvStore extends pulumi.ComponentResource {
    public readonly backend: KvBackend;
    /** Each member's container, by host name. */
    public readonly containers: Record<string, docker.Container>;
    /**
     * Succeeds once the store answers with a leader and, for a cluster, every member has joined;
     * daemons are pointed at it only after this.
     */
    public readonly ready: command.remote.Command;
    /** The first server's daemon's `cluster-store` URL, e.g. `consul://10.0.0.1:8500`. */
    public readonly url: pulumi.Output<string>;
    /** Consul only: the web UI. */
    public readonly uiUrl: pulumi.Output<string | undefined>;
    private readonly servers: pulumi.Output<KvPeer[]>;
    private readonly kv: KvConfig;
    private readonly name: string;
    private readonly first: KvMember;
    private readonly memberCount: number;
    /** `kv.acl`: the token the waits send (a secret). */
    private readonly aclToken?: pulumi.Output<string>;

    constructor(name: string, args: KvStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        super("docker-overlay:kv:KvStore", name, {}, opts);
        const { kv } = args;
        this.kv = kv;
        this.name = name;
        this.memberCount = kv.backend === "consul" ? args.members.length : kv.servers.length;
        this.backend = kv.backend;
        if (kv.acl && args.aclToken === undefined) throw new pulumi.ResourceError("`kv.acl` is true but no `consulAclToken` was given: Consul's ACLs need the management token", this);
        if (kv.acl) this.aclToken = pulumi.secret(args.aclToken!);
        if (kv.tls && args.tlsKey === undefined) throw new pulumi.ResourceError("`kv.tls` is set but no `consulTlsKey` was given: Consul's HTTPS needs the certificate's private key", this);
        // The key must be the certificate's (a library user's program has not checked it).
        const tls = kv.tls
            ? {
                  ...kv.tls,
                  key: pulumi.secret(args.tlsKey!).apply((key) => {
                      const problems = tlsMaterialProblems(kv.tls!, key).filter((p) => p.includes("consulTlsKey"));
                      if (problems.length > 0) throw new pulumi.ResourceError(problems.join("; "), this);
                      return key;
                  }),
              }
            : undefined;
        const cluster = kv.servers.length > 1;
        const serverMembers = kv.servers.map((s) => args.members.find((m) => m.name === s)!);
        this.servers = pulumi.all(serverMembers.map((m) => m.host.overlayUnderlayAddress.apply((address) => ({ name: m.name, address }))));

        // One server keeps the names the stack has always used; a cluster names each member's.
        const named = (m: KvMember, what: string) => (cluster ? `${name}-${m.name}-${what}` : `${name}-${what}`);
        this.containers = {};
        const memberReady: command.remote.Command[] = [];
        for (const m of args.members) {
            const dockerOpts = { parent: this, provider: m.host.provider };
            const image = args.pull
                ? new docker.RemoteImage(named(m, "image"), { name: kv.image, keepLocally: true }, { ...dockerOpts, dependsOn: [m.host.checked] }).imageId
                : pulumi.output(kv.image);
            const volume = new docker.Volume(named(m, "data"), { name: `${args.containerName}-data` }, { ...dockerOpts, dependsOn: [m.host.checked] });
            const spec = pulumi
                .all([m.host.interface, m.host.overlayUnderlayAddress, this.servers])
                .apply(([iface, address, servers]) => kvContainerSpec(kv, iface, { name: m.name, address }, m.role, servers));
            const container = new docker.Container(
                named(m, m.role === "client" ? "agent" : "server"),
                {
                    name: args.containerName,
                    image,
                    networkMode: "host",
                    restart: "always",
                    envs: spec.envs,
                    command: spec.command,
                    volumes: [{ volumeName: volume.name, containerPath: spec.dataPath }],
                    // The ACL token and the TLS key in files uploaded before the agent starts,
                    // never in its command or environment; secrets, so encrypted in the state.
                    // Mode 0644: hashicorp/consul runs the agent as the user consul, and the
                    // files are readable only inside the container (and by root on the host).
                    // (No `uploads` key at all without them: the containers of a stack made
                    // before stay as they are.)
                    ...uploadsOrNothing([
                        ...(this.aclToken ? [{ file: CONSUL_ACL_FILE, content: this.aclToken.apply((t) => consulAclConfig(m.role, t)), permissions: "0644" }] : []),
                        ...(tls
                            ? [
                                  { file: CONSUL_TLS_FILE, content: m.host.overlayUnderlayAddress.apply((a) => consulTlsConfig(a, kv.port)), permissions: "0644" },
                                  { file: `${CONSUL_TLS_DIR}/ca.pem`, content: tls.ca, permissions: "0644" },
                                  { file: `${CONSUL_TLS_DIR}/cert.pem`, content: tls.cert, permissions: "0644" },
                                  { file: `${CONSUL_TLS_DIR}/key.pem`, content: tls.key, permissions: "0644" },
                              ]
                            : []),
                    ]),
                },
                { ...dockerOpts, dependsOn: [volume] },
            );
            this.containers[m.name] = container;
            if (cluster) memberReady.push(this.waitCommand(named(m, "ready"), m, [container], {}));
        }

        // The store as a whole, asked on the first server: a leader, and every member joined.
        const first = serverMembers[0]!;
        this.first = first;
        this.ready = this.waitCommand(`${name}-ready`, first, cluster ? memberReady : [this.containers[first.name]!], cluster ? this.clusterExpectations() : {});
        this.url = this.urlFor(first);
        this.uiUrl = pulumi.output(kv.backend === "consul" ? `${kv.tls ? "https" : "http"}://${args.hostAddress}:${kv.port}/ui/` : undefined);

        this.registerOutputs({ url: this.url, uiUrl: this.uiUrl });
    }

    /**
     * A cluster once every server's daemon has restarted (AFTER): a leader again and every member
     * back. Restarting a server's daemon restarts its store container, and the cluster answers
     * writes with errors ("leadership lost while committing log") while it elects again; nothing
     * may write to the store (a network, a container joining it) before this.
     */
    settledAfter(after: pulumi.Resource): command.remote.Command {
        return this.waitCommand(`${this.name}-settled`, this.first, [after], this.clusterExpectations());
    }

    /** What a healthy cluster is: every member joined, and (Consul) every server a voter again. */
    private clusterExpectations(): { EXPECT_MEMBERS: number; EXPECT_VOTERS?: number } {
        return { EXPECT_MEMBERS: this.memberCount, ...(this.kv.backend === "consul" ? { EXPECT_VOTERS: this.kv.servers.length } : {}) };
    }

    /** The `cluster-store` URL of one host's daemon (clusterStoreUrl). */
    urlFor(member: { name: string; host: DockerHost }): pulumi.Output<string> {
        return pulumi.all([member.host.overlayUnderlayAddress, this.servers]).apply(([self, servers]) =>
            clusterStoreUrl(
                this.kv,
                self,
                servers.map((s) => s.address),
            ),
        );
    }

    /** kv-wait on MEMBER's own host against its local agent or member, after DEPS, again whenever a container is replaced. */
    private waitCommand(resourceName: string, member: KvMember, deps: pulumi.Resource[], extra: { EXPECT_MEMBERS?: number; EXPECT_VOTERS?: number }): command.remote.Command {
        const containers = deps.filter((d): d is docker.Container => d instanceof docker.Container);
        return new command.remote.Command(
            resourceName,
            {
                ...scriptedCommandArgs(
                    member.host.connection,
                    "kv-wait",
                    {
                        // With ACLs the script holds the token: a secret output, so stdin is a secret.
                        create: pulumi.all([this.urlFor(member), this.aclToken]).apply(([url, token]) =>
                            renderScript("kv-wait", {
                                BACKEND: this.kv.backend,
                                KV_ADDRESS: "127.0.0.1",
                                KV_PORT: this.kv.port,
                                TIMEOUT_SECONDS: 90,
                                HOST_LABEL: member.name,
                                STORE_URL: url,
                                ...(token ? { CONSUL_TOKEN: token } : {}),
                                ...extra,
                            }),
                        ),
                    },
                    "stderr",
                ),
                triggers: containers.length > 0 ? containers.map((c) => c.id) : Object.values(this.containers).map((c) => c.id),
            },
            { parent: this, dependsOn: deps },
        );
    }
}
