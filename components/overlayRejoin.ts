import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { SERF_PORT } from "./daemonConfig";
import { DockerHost } from "./dockerHost";
import { scriptedCommandArgs } from "./remoteScript";
import { renderScript } from "./scripts";

/**
 * The label on the stack's own containers on the overlay (services, probes) whose value is the
 * rejoin generation: a new generation re-creates them, so that the stack knows their new
 * addresses (registrations, the connectivity check) within the same up. overlay-rejoin leaves the
 * containers with this label stopped for that, and starts the others again.
 */
export const REJOIN_LABEL = "docker-overlay.rejoin";

/** The container `labels` input for a rejoin generation (none without one, e.g. in swarm mode). */
export function rejoinLabels(generation: pulumi.Input<string> | undefined): { labels?: { label: string; value: pulumi.Input<string> }[] } {
    return generation === undefined ? {} : { labels: [{ label: REJOIN_LABEL, value: generation }] };
}

export interface OverlayRejoinArgs {
    host: DockerHost;
    /** The host's name in the stack, for messages. */
    hostName: string;
    /** The overlay network whose containers announce themselves again. */
    network: string;
    /** How many times this host's Docker started outside the stack (preflight's count; 0 without preflight). */
    epoch: number;
    /**
     * When this changes, every host's containers on the overlay are started again: every host's
     * count and the daemon.json every host gets (a changed one restarts that Docker).
     */
    generation: pulumi.Input<string>;
    /** `docker stop -t` for the containers. */
    stopSeconds: number;
    /** How long to wait for the daemon's gossip port. */
    waitSeconds: number;
}

/**
 * kv mode: after any host's Docker started again (a reboot, a crash, a restart by hand, or a
 * daemon.json this stack changed), the containers on the overlay on this host are stopped once
 * its gossip is up, the stack's own (REJOIN_LABEL) to be re-created by the stack, the others
 * started again, so that every host learns their endpoints again; the legacy overlay does not
 * replay them to a daemon that came back (docs/lab.md, "A host's Docker restarted"). Preflight sees a restart that happened outside the stack by comparing the running
 * dockerd with what this command recorded on the host; the count it keeps is part of
 * `generation`, so the command runs again on every host exactly once per restart. Its delete
 * removes the record.
 */
export class OverlayRejoin extends pulumi.ComponentResource {
    public readonly run: command.remote.Command;

    constructor(name: string, args: OverlayRejoinArgs, opts?: pulumi.ComponentResourceOptions) {
        super("docker-overlay:overlay:Rejoin", name, {}, opts);
        const common = { HOST_LABEL: args.hostName };
        const create = args.host.overlayUnderlayAddress.apply((address) =>
            renderScript("overlay-rejoin", {
                ...common,
                ACTION: "rejoin",
                NETWORK: args.network,
                EPOCH: args.epoch,
                GOSSIP_ADDRESS: `${address.includes(":") ? `[${address}]` : address}:${SERF_PORT}`,
                WAIT_SECONDS: args.waitSeconds,
                STOP_SECONDS: args.stopSeconds,
                MANAGED_LABEL: REJOIN_LABEL,
            }),
        );
        this.run = new command.remote.Command(
            `${name}-run`,
            {
                ...scriptedCommandArgs(
                    args.host.connection,
                    "overlay-rejoin",
                    {
                        create,
                        // A changed script alone (a new docker-overlay) must not stop the containers:
                        // only a new generation (triggers: a replacement, which runs create) does.
                        update: renderScript("overlay-rejoin", { ...common, ACTION: "keep" }),
                        delete: renderScript("overlay-rejoin", { ...common, ACTION: "forget" }),
                    },
                    "stdoutAndStderr",
                ),
                triggers: [args.generation],
            },
            // The old one's delete removes the record the new one writes: delete it first.
            { parent: this, deleteBeforeReplace: true },
        );
        this.registerOutputs({});
    }
}
