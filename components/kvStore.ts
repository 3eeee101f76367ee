import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { clusterStoreUrl, KvBackend, KvConfig } from "./config";
import { DockerHost } from "./dockerHost";
import { kvContainerSpec } from "./kvContainer";
import { scriptedCommandArgs } from "./remoteScript";
import { renderScript } from "./scripts";

export interface KvStoreArgs {
    /** Which store, its image and port. */
    kv: KvConfig;
    /** The host that runs it. */
    host: DockerHost;
    /** That host's name in the stack (`hosts[].name`), for messages. */
    hostName: string;
    /** The host's SSH address (the Consul provider talks to the store there). */
    hostAddress: string;
    /** Pull the image (false: it must already be on the host). */
    pull: boolean;
    /** Name of the store's container on the host. */
    containerName: string;
}

/**
 * The key-value store behind the legacy overlay, run as the seed runs Consul: one server in a
 * container on the host network, bound to the host's detected interface, with a data volume
 * and `restart: always`. etcd (v2 API on) is the alternative (ZooKeeper, which Docker also
 * accepts, is refused by the config: see ZOOKEEPER_REFUSED).
 */
export class KvStore extends pulumi.ComponentResource {
    public readonly backend: KvBackend;
    public readonly container: docker.Container;
    /** Succeeds once the store answers; daemons are pointed at it only after this. */
    public readonly ready: command.remote.Command;
    /** The value for Docker's `cluster-store` option, e.g. `consul://10.0.0.1:8500`. */
    public readonly url: pulumi.Output<string>;
    /** Consul only: the web UI. */
    public readonly uiUrl: pulumi.Output<string | undefined>;

    constructor(name: string, args: KvStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        super("docker-overlay:kv:KvStore", name, {}, opts);
        const { kv, host } = args;
        this.backend = kv.backend;
        const dockerOpts = { parent: this, provider: host.provider };

        const image = args.pull
            ? new docker.RemoteImage(`${name}-image`, { name: kv.image, keepLocally: true }, { ...dockerOpts, dependsOn: [host.factsCommand] }).imageId
            : pulumi.output(kv.image);
        const volume = new docker.Volume(`${name}-data`, { name: `${args.containerName}-data` }, { ...dockerOpts, dependsOn: [host.factsCommand] });
        const spec = pulumi
            .all([host.interface, host.overlayUnderlayAddress])
            .apply(([iface, address]) => kvContainerSpec(kv, iface, address));

        this.container = new docker.Container(
            `${name}-server`,
            {
                name: args.containerName,
                image,
                networkMode: "host",
                restart: "always",
                envs: spec.envs,
                command: spec.command,
                volumes: [{ volumeName: volume.name, containerPath: spec.dataPath }],
            },
            { ...dockerOpts, dependsOn: [volume] },
        );

        this.url = host.overlayUnderlayAddress.apply((address) => clusterStoreUrl(kv, address));
        this.ready = new command.remote.Command(
            `${name}-ready`,
            {
                ...scriptedCommandArgs(
                    host.connection,
                    "kv-wait",
                    {
                        create: this.url.apply((url) =>
                            renderScript("kv-wait", { BACKEND: kv.backend, KV_ADDRESS: "127.0.0.1", KV_PORT: kv.port, TIMEOUT_SECONDS: 90, HOST_LABEL: args.hostName, STORE_URL: url }),
                        ),
                    },
                    "stderr",
                ),
                triggers: [this.container.id],
            },
            { parent: this, dependsOn: [this.container] },
        );

        this.uiUrl = pulumi.output(kv.backend === "consul" ? `http://${args.hostAddress}:${kv.port}/ui/` : undefined);

        this.registerOutputs({ url: this.url, uiUrl: this.uiUrl });
    }
}
