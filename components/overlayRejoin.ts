import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { SERF_PORT } from "./daemonConfig";
import { DockerHost } from "./dockerHost";
import { scriptedCommandArgs } from "./remoteScript";
import { renderScript } from "./hostScripts";

/** What the rejoin reported for a container it restarted: its address before and after. */
export interface Rejoined {
    before: string;
    after: string;
}

/**
 * A container's overlay address: the one the rejoin gave it when what the provider read is the
 * one it had before (a refresh before the rejoin, in the same up); else what the provider read
 * (a later refresh knows better, e.g. after Docker restarted the container).
 */
export function currentAddress(id: string, fromProvider: string, rejoined: Readonly<Record<string, Rejoined>> | undefined): string {
    const r = rejoined?.[id];
    return r && r.after !== "" && fromProvider === r.before ? r.after : fromProvider;
}

/** Parses the rejoin's stdout; {} when it is not the report (e.g. an older stack's). */
export function parseRejoinReport(stdout: string): Record<string, Rejoined> {
    try {
        const r = JSON.parse(stdout) as { addresses?: unknown };
        if (r && typeof r.addresses === "object" && r.addresses !== null)
            return Object.fromEntries(
                Object.entries(r.addresses as Record<string, unknown>).filter(
                    (e): e is [string, Rejoined] => typeof e[1] === "object" && e[1] !== null && typeof (e[1] as Rejoined).before === "string" && typeof (e[1] as Rejoined).after === "string",
                ),
            );
    } catch {
        // not a report
    }
    return {};
}

export interface OverlayRejoinArgs {
    host: DockerHost;
    /** The stack ("<project>/<stack>") the host is recorded as belonging to; another stack's host is refused (lib/owner.sh). */
    owner: string;
    /** The host's name in the stack, for messages. */
    hostName: string;
    /** The overlay network whose containers announce themselves again. */
    network: string;
    /** How many times this host's Docker started outside the stack (preflight's count; 0 without preflight). */
    epoch: number;
    /**
     * When this changes, every host's containers on the overlay are stopped and started again:
     * every host's count and a hash of the config keys that go into the daemon.json (a changed
     * one restarts Docker). The same on every host.
     */
    generation: pulumi.Input<string>;
    /** `docker stop -t` for the containers. */
    stopSeconds: number;
    /** How long to wait for the daemon's gossip port. */
    waitSeconds: number;
}

/**
 * kv mode: after any host's Docker started again (a reboot, a crash, a restart by hand, or a
 * daemon.json this stack changed), the containers on the overlay on this host are stopped and
 * started again once its gossip is up, so that every host learns their endpoints again; the
 * legacy overlay does not replay them to a daemon that came back (docs/lab.md, "a host's Docker
 * restarted"). Their addresses change: `addresses` reports the new ones, which the services and
 * probes of this host use in the same up (currentAddress). Preflight sees a restart that happened
 * outside the stack by comparing the running dockerd with what this command recorded on the
 * host; the count it keeps is part of `generation`, so the command runs again on every host
 * exactly once per restart. Its delete removes the record.
 */
export class OverlayRejoin extends pulumi.ComponentResource {
    public readonly run: command.remote.Command;
    /** Container ID -> its address on the overlay before and after, for the containers the last run restarted (after an update: every one on the network, unchanged). */
    public readonly addresses: pulumi.Output<Record<string, Rejoined>>;

    constructor(name: string, args: OverlayRejoinArgs, opts?: pulumi.ComponentResourceOptions) {
        super("docker-overlay:overlay:Rejoin", name, {}, opts);
        const common = { HOST_LABEL: args.hostName, OWNER: args.owner };
        const create = args.host.overlayUnderlayAddress.apply((address) =>
            renderScript("overlay-rejoin", {
                ...common,
                ACTION: "rejoin",
                NETWORK: args.network,
                EPOCH: args.epoch,
                GOSSIP_ADDRESS: `${address.includes(":") ? `[${address}]` : address}:${SERF_PORT}`,
                WAIT_SECONDS: args.waitSeconds,
                STOP_SECONDS: args.stopSeconds,
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
                        update: renderScript("overlay-rejoin", { ...common, ACTION: "keep", NETWORK: args.network, EPOCH: args.epoch }),
                        delete: renderScript("overlay-rejoin", { ...common, ACTION: "forget" }),
                    },
                    // stdout is the address report; what it did goes to stderr.
                    "stderr",
                ),
                triggers: [args.generation],
            },
            // The old one's delete removes the record the new one writes: delete it first.
            { parent: this, deleteBeforeReplace: true },
        );
        this.addresses = this.run.stdout.apply(parseRejoinReport);
        this.registerOutputs({});
    }
}
