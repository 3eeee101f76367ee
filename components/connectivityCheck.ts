import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DockerHost } from "./dockerHost";
import { currentAddress, type Rejoined } from "./overlayRejoin";
import { scriptedCommandArgs } from "./remoteScript";
import { renderScript } from "./hostScripts";
import { JOIN_EPOCH_LABEL } from "./service";

export interface ConnectivityTarget {
    /** Our name for the host. */
    name: string;
    host: DockerHost;
    /** The host ready for the overlay (daemon configured or swarm joined): its probe waits for it. */
    ready: pulumi.Resource;
    /** kv mode: the addresses the host's rejoin reported (see OverlayRejoin). */
    rejoined?: pulumi.Output<Record<string, Rejoined>>;
    /** swarm mode: the host's join epoch; from 1 on, its probe is labelled with it (made anew when it changes). */
    joinEpoch?: number;
}

export interface ConnectivityCheckArgs {
    hosts: ConnectivityTarget[];
    /** The overlay network's name (an output, so probes wait for the network). */
    networkName: pulumi.Input<string>;
    /** Probe image; needs `ping` and `sleep` (busybox has both). */
    image: string;
    pull: boolean;
    /** Probe containers are named `<prefix>-<host>`. */
    probePrefix: string;
    /** The check runs after these (the services). */
    after: pulumi.Input<pulumi.Resource>[];
}

/** One host's result, as `connectivity-check.sh` prints it. */
export interface ProbeReport {
    from: string;
    /** `to`: the probe asked (its container name, which is also what was asked by name); `host`: the host it runs on. */
    results: { to: string; host: string; address: string; byAddress: boolean; byName: boolean }[];
}

/**
 * Proof that the overlay carries traffic: a small probe container on every host, then from every
 * host a ping to every other host's probe by overlay address and by name. `up` fails naming
 * the pair that cannot talk; the report is exported.
 */
export class ConnectivityCheck extends pulumi.ComponentResource {
    public readonly probes: docker.Container[];
    public readonly checks: command.remote.Command[];
    /** Every host's results. */
    public readonly report: pulumi.Output<ProbeReport[]>;

    constructor(name: string, args: ConnectivityCheckArgs, opts?: pulumi.ComponentResourceOptions) {
        super("docker-overlay:connectivity:ConnectivityCheck", name, {}, opts);

        this.probes = args.hosts.map(({ name: hostName, host, ready, joinEpoch }) => {
            const dockerOpts = { parent: this, provider: host.provider, dependsOn: [ready] };
            const image = args.pull
                ? new docker.RemoteImage(`${name}-image-${hostName}`, { name: args.image, keepLocally: true }, dockerOpts).imageId
                : pulumi.output(args.image);
            return new docker.Container(
                `${name}-probe-${hostName}`,
                {
                    name: `${args.probePrefix}-${hostName}`,
                    image,
                    command: ["sleep", "2147483647"],
                    networksAdvanced: [{ name: args.networkName }],
                    restart: "unless-stopped",
                    ...(joinEpoch ? { labels: [{ label: JOIN_EPOCH_LABEL, value: String(joinEpoch) }] } : {}),
                },
                // Its name is fixed: the old one goes first.
                { ...dockerOpts, deleteBeforeReplace: true },
            );
        });

        const addresses = this.probes.map((p, i) =>
            pulumi.all([p.id, p.name, p.networkDatas, args.networkName, args.hosts[i]!.rejoined ?? pulumi.output(undefined)]).apply(([id, probe, datas, net, rejoined]) => ({
                probe,
                address: currentAddress(id, datas?.find((d) => d.networkName === net)?.ipAddress ?? "", rejoined),
            })),
        );

        this.checks = args.hosts.map(({ name: hostName, host }, i) => {
            const targets = pulumi
                .all(addresses)
                .apply((all) => all.filter((_, j) => j !== i).map((t) => `${t.probe}=${t.address}`));
            return new command.remote.Command(
                `${name}-from-${hostName}`,
                {
                    ...scriptedCommandArgs(
                        host.connection,
                        "connectivity-check",
                        {
                            create: pulumi
                                .all([targets, addresses[i]!])
                                .apply(([TARGETS, self]) => renderScript("connectivity-check", { HOST_LABEL: hostName, PROBE: self.probe, TARGETS })),
                        },
                        "stderr",
                    ),
                    // Check again whenever any probe's address changes.
                    triggers: [pulumi.all(addresses)],
                },
                { parent: this, dependsOn: [...this.probes, ...args.after] as pulumi.Input<pulumi.Resource>[] },
            );
        });

        this.report = pulumi
            .all([pulumi.all(this.checks.map((c) => c.stdout)), pulumi.all(addresses)])
            .apply(([outs, probes]) => outs.map((o) => withHosts(JSON.parse(o) as ProbeReport, new Map(probes.map((p, i) => [p.probe, args.hosts[i]!.name])))));
        this.registerOutputs({ report: this.report });
    }
}

/** The report of connectivity-check.sh with each result's host (the script knows only probe names). */
export function withHosts(report: Omit<ProbeReport, "results"> & { results: Omit<ProbeReport["results"][number], "host">[] }, hostOfProbe: ReadonlyMap<string, string>): ProbeReport {
    return { ...report, results: report.results.map((r) => ({ ...r, host: hostOfProbe.get(r.to) ?? r.to })) };
}
