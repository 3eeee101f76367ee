import * as command from "@pulumi/command";
import * as consul from "@pulumi/consul";
import * as pulumi from "@pulumi/pulumi";
import { DockerHost } from "./dockerHost";
import { scriptedCommandArgs } from "./remoteScript";
import { renderScript } from "./hostScripts";

export interface ConsulRegistryArgs {
    /** The host of the Consul server the stack talks to (the KV store's host, or in a cluster the first server that answers). */
    host: DockerHost;
    /** That host's name in the stack (`hosts[].name`), for messages. */
    hostName: string;
    /** The host's SSH address: the Consul provider talks to Consul there. */
    hostAddress: string;
    /** The catalog node's address: the first server's, whichever server the provider goes through. */
    nodeAddress: pulumi.Input<string>;
    /** Consul's HTTP port. */
    port: number;
    /** Consul ACL token for the Consul provider (a secret). */
    aclToken?: pulumi.Input<string>;
    /** `kv.tls`: the provider speaks HTTPS, trusting the CA and presenting the certificate (its key a secret). */
    tls?: { ca: string; cert: string; key: pulumi.Input<string> };
    /** This cluster's record, written under `recordPrefix`. */
    record: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Key prefix for the record, e.g. `docker-overlay/dev/`. */
    recordPrefix: string;
    /** The catalog node services are registered under. */
    nodeName: string;
    /**
     * Where the provider, record and node were declared before this component existed (children
     * `<prefix>-consul`, `-record` and `-node` of the KvStore): aliases, so that a stack made then
     * keeps them instead of replacing them (a new record could not be created over the old keys).
     */
    formerlyUnder?: { parent: pulumi.Resource; prefix: string };
}

/**
 * The stack's Consul as a registry: a Consul provider bound to the server, the cluster's record
 * under its key prefix, and the catalog node under which services are registered with their
 * overlay address (each Service adds its own registration).
 *
 * It is created after the KV host's daemon is configured (the caller's `dependsOn`), and it
 * checks that Consul has a leader again first: restarting that daemon restarts the Consul
 * container, which has no leader for a few seconds, and Consul answers every write then with
 * "500 No cluster leader". For the same reason destroy removes all of it before that daemon's
 * configuration is undone.
 */
export class ConsulRegistry extends pulumi.ComponentResource {
    /** Succeeds once Consul answers with a leader. */
    public readonly ready: command.remote.Command;
    public readonly provider: consul.Provider;
    public readonly record: consul.KeyPrefix;
    public readonly node: consul.Node;

    constructor(name: string, args: ConsulRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("docker-overlay:consul:ConsulRegistry", name, {}, opts);
        const { host } = args;

        this.ready = new command.remote.Command(
            `${name}-ready`,
            scriptedCommandArgs(
                host.connection,
                "kv-wait",
                {
                    create: renderScript("kv-wait", {
                        BACKEND: "consul",
                        KV_ADDRESS: "127.0.0.1",
                        KV_PORT: args.port,
                        TIMEOUT_SECONDS: 90,
                        HOST_LABEL: args.hostName,
                        STORE_URL: `${args.tls ? "https" : "http"}://${args.hostAddress}:${args.port}`,
                    }),
                },
                "stderr",
            ),
            { parent: this },
        );

        const former = (suffix: string) => (args.formerlyUnder ? { aliases: [{ name: `${args.formerlyUnder.prefix}-${suffix}`, parent: args.formerlyUnder.parent }] } : {});
        this.provider = new consul.Provider(
            `${name}-provider`,
            {
                address: `${args.hostAddress}:${args.port}`,
                scheme: args.tls ? "https" : "http",
                ...(args.aclToken ? { token: pulumi.secret(args.aclToken) } : {}),
                ...(args.tls ? { caPem: args.tls.ca, certPem: args.tls.cert, keyPem: pulumi.secret(args.tls.key) } : {}),
            },
            { parent: this, dependsOn: [this.ready], ...former("consul") },
        );
        const consulOpts = { parent: this, provider: this.provider };
        this.record = new consul.KeyPrefix(`${name}-record`, { pathPrefix: args.recordPrefix, subkeys: args.record }, { ...consulOpts, ...former("record") });
        this.node = new consul.Node(`${name}-node`, { name: args.nodeName, address: args.nodeAddress }, { ...consulOpts, ...former("node") });

        this.registerOutputs({});
    }
}
