import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { NetworkConfig } from "./config";

/** Docker's option for the MTU of a network's interfaces. */
export const MTU_OPTION = "com.docker.network.driver.mtu";

export interface OverlayNetworkArgs {
    /** Name, subnet, gateway and MTU. */
    network: NetworkConfig;
    /** Swarm mode: let plain `docker run` containers attach. */
    attachable: boolean;
    /** The provider of the host the network is created through. */
    provider: docker.Provider;
    /** Every daemon configured (kv) or every host joined (swarm): the network comes after. */
    ready: pulumi.Input<pulumi.Resource>[];
}

/** The one overlay network, created through one host once every host is ready for it. */
export class OverlayNetwork extends pulumi.ComponentResource {
    public readonly network: docker.Network;
    /** The network's name, for containers to join (known once the network exists). */
    public readonly name: pulumi.Output<string>;

    constructor(name: string, args: OverlayNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("docker-overlay:network:OverlayNetwork", name, {}, opts);
        const { network } = args;
        this.network = new docker.Network(
            `${name}-network`,
            {
                name: network.name,
                driver: "overlay",
                attachable: args.attachable,
                ...(network.subnet
                    ? { ipamConfigs: [{ subnet: network.subnet, ...(network.gateway ? { gateway: network.gateway } : {}) }] }
                    : {}),
                ...(network.mtu ? { options: { [MTU_OPTION]: String(network.mtu) } } : {}),
            },
            // Docker refuses a second network of the same name, so a change that replaces the
            // network (subnet, MTU) removes the old one first; the engine then replaces the
            // containers attached to it as well.
            { parent: this, provider: args.provider, dependsOn: args.ready, deleteBeforeReplace: true },
        );
        this.name = this.network.name;
        this.registerOutputs({ name: this.name });
    }
}
