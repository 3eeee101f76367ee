import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { NetworkConfig } from "./config";

/** Docker's option for the MTU of a network's interfaces. */
export const MTU_OPTION = "com.docker.network.driver.mtu";
/** Label recording the driver options we set (see the comment at the network). */
export const OPTIONS_LABEL = "docker-overlay.options";

export interface OverlayNetworkArgs {
    /** Name, subnet, gateway and MTU. */
    network: NetworkConfig;
    /** Swarm mode: let plain `docker run` containers attach. */
    attachable: boolean;
    /** The provider of the host the network is created through. */
    provider: docker.Provider;
    /** The hub ready: its daemon configured (kv) or the swarm initialised on it (swarm). */
    ready: pulumi.Input<pulumi.Resource>[];
}

/** The one overlay network, created through one host (the hub) once that host is ready for it. */
export class OverlayNetwork extends pulumi.ComponentResource {
    public readonly network: docker.Network;
    /** The network's name, for containers to join (known once the network exists). */
    public readonly name: pulumi.Output<string>;

    constructor(name: string, args: OverlayNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("docker-overlay:network:OverlayNetwork", name, {}, opts);
        const { network } = args;
        const options: Record<string, string> = network.mtu ? { [MTU_OPTION]: String(network.mtu) } : {};
        this.network = new docker.Network(
            `${name}-network`,
            {
                name: network.name,
                driver: "overlay",
                attachable: args.attachable,
                ...(network.subnet
                    ? { ipamConfigs: [{ subnet: network.subnet, ...(network.gateway ? { gateway: network.gateway } : {}) }] }
                    : {}),
                options,
                // Swarm adds options of its own (the VXLAN ID), which read back as a change of
                // `options` and would replace the network on every `up`. So `options` is ignored
                // after creation, and this label carries what we asked for: changing the MTU
                // changes the label, which replaces the network.
                labels: [{ label: OPTIONS_LABEL, value: JSON.stringify(options) }],
            },
            {
                parent: this,
                provider: args.provider,
                dependsOn: args.ready,
                // Docker refuses a second network of the same name, so a change that replaces the
                // network removes the old one first; the engine then replaces the containers
                // attached to it as well.
                deleteBeforeReplace: true,
                ignoreChanges: ["options"],
            },
        );
        this.name = this.network.name;
        this.registerOutputs({ name: this.name });
    }
}
