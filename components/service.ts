import * as consul from "@pulumi/consul";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ServiceConfig } from "./config";
import { currentAddress, type Rejoined } from "./overlayRejoin";

export interface ServiceArgs {
    /** The service's container: image, command, env, aliases, ports. */
    service: ServiceConfig;
    /** The provider of the host it runs on. */
    provider: docker.Provider;
    /** The overlay network's name (an output, so the container waits for the network). */
    networkName: pulumi.Input<string>;
    /** Consul registration: the provider and the node to register under. */
    consul?: { provider: consul.Provider; node: consul.Node };
    /** kv mode: the addresses its host's rejoin reported (container ID -> address; see OverlayRejoin). */
    rejoined?: pulumi.Output<Record<string, Rejoined>>;
    /** swarm mode: its host's join epoch (components/drift.ts); from 1 on, a label that makes the container anew when it changes. */
    joinEpoch?: number;
}

/** The label that makes a container on a host that joined its swarm again be made again (a container keeps no attachment to the swarm it lost). */
export const JOIN_EPOCH_LABEL = "docker-overlay.swarm-join";


/**
 * A service container on its host, on the overlay with its DNS aliases. Its overlay address is
 * the one the seed's gateway could not reach before; optionally it is registered in Consul with
 * that address.
 */
export class Service extends pulumi.ComponentResource {
    public readonly container: docker.Container;
    /** The container's address on the overlay network. */
    public readonly overlayAddress: pulumi.Output<string>;

    constructor(name: string, args: ServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("docker-overlay:service:Service", name, {}, opts);
        const { service } = args;
        const dockerOpts = { parent: this, provider: args.provider };

        const image = service.pull
            ? new docker.RemoteImage(`${name}-image`, { name: service.image, keepLocally: true }, dockerOpts).imageId
            : pulumi.output(service.image);

        this.container = new docker.Container(
            `${name}-container`,
            {
                name: service.name,
                image,
                ...(service.command ? { command: service.command } : {}),
                envs: Object.entries(service.env).map(([k, v]) => `${k}=${v}`),
                networksAdvanced: [{ name: args.networkName, aliases: service.aliases }],
                ports: service.ports.map((p) => ({ internal: p.internal, ...(p.external ? { external: p.external } : {}), protocol: p.protocol })),
                restart: "unless-stopped",
                ...(args.joinEpoch ? { labels: [{ label: JOIN_EPOCH_LABEL, value: String(args.joinEpoch) }] } : {}),
            },
            // Its name is fixed: the old one goes first.
            { ...dockerOpts, deleteBeforeReplace: true },
        );

        this.overlayAddress = pulumi
            .all([this.container.id, this.container.networkDatas, args.networkName, args.rejoined ?? pulumi.output(undefined)])
            .apply(([id, datas, net, rejoined]) => currentAddress(id, datas?.find((d) => d.networkName === net)?.ipAddress ?? "", rejoined));

        if (service.registerInConsul) {
            if (!args.consul) throw new pulumi.ResourceError(`service ${service.name}: \`registerInConsul\` needs \`kv.backend: consul\``, this);
            new consul.Service(
                `${name}-registration`,
                {
                    name: service.name,
                    node: args.consul.node.name,
                    address: this.overlayAddress,
                    ...(service.port ?? service.ports[0] ? { port: service.port ?? service.ports[0]!.internal } : {}),
                    tags: ["docker-overlay"],
                },
                { parent: this, provider: args.consul.provider },
            );
        }

        this.registerOutputs({ overlayAddress: this.overlayAddress });
    }
}
