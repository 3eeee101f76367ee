import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { DaemonJsonError, mergeDaemonJson } from "./daemonJson";
import { DockerHost } from "./dockerHost";
import { scriptedCommandArgs } from "./remoteScript";
import { renderScript } from "./hostScripts";

/** The port of the daemon's serf (gossip) agent; Docker does not let it be changed. */
export const SERF_PORT = 7946;

export interface DaemonConfigArgs {
    /** The host whose daemon is configured. */
    host: DockerHost;
    /** The stack ("<project>/<stack>") the host is recorded as belonging to; another stack's host is refused (lib/owner.sh). */
    owner: string;
    /** Docker's `cluster-store` URL, e.g. `etcd://10.0.0.1:2379`. */
    clusterStore: pulumi.Input<string>;
    /** Docker's `cluster-advertise`, `interface:port`. */
    clusterAdvertise: pulumi.Input<string>;
    /** Docker's `cluster-store-opts` (e.g. the discovery heartbeat). */
    clusterStoreOpts: Readonly<Record<string, string>>;
    /** How Docker is restarted on this host (argv). */
    restartCommand: readonly string[];
    /** Prints the daemon's recent log when a restart fails (argv). */
    logCommand?: readonly string[];
    /** How long to wait for the restarted daemon. */
    waitSeconds: number;
    /** Drift epoch (components/drift.ts): a new value runs the apply again, which records it on the host. */
    epoch?: number;
    /**
     * The environment file dockerd starts with (`NAME=VALUE` lines, a secret): written before the
     * restart, removed by destroy (daemon-env.sh). `kv.acl`: Consul's token for Docker's store.
     */
    environment?: pulumi.Input<string>;
    /**
     * `kv.tls`: the files Docker's store presents and trusts (CA, certificate, its key as a
     * secret), written with the environment file into /etc/docker/docker-overlay-tls and removed
     * by destroy (daemon-env.sh); `clusterStoreOpts` must name them (consulTls.ts daemonTlsOpts).
     */
    tls?: { ca: string; cert: string; key: pulumi.Input<string> };
}

/**
 * Points one host's dockerd at the KV store (kv mode): merges `cluster-store` and
 * `cluster-advertise` into the host's existing /etc/docker/daemon.json (every other key kept),
 * restarts Docker and waits until it reports the store. On the host, the apply script refuses
 * engines of 23 and later and options duplicated in the systemd unit, and rolls back to the
 * previous file when Docker does not come back. Destroy puts the original back byte for byte.
 */
export class DaemonConfig extends pulumi.ComponentResource {
    /** Keeps the host's original daemon.json; its stdout describes that original. */
    public readonly backup: command.remote.Command;
    /** Writes the merged file and restarts Docker; its delete restores the original. */
    public readonly apply: command.remote.Command;
    /** The daemon.json this host gets. */
    public readonly content: pulumi.Output<string>;
    /** Writes dockerd's environment file (`environment`) and TLS files (`tls`); its delete removes them. */
    public readonly env?: command.remote.Command;

    constructor(name: string, args: DaemonConfigArgs, opts?: pulumi.ComponentResourceOptions) {
        super("docker-overlay:daemon:DaemonConfig", name, {}, opts);
        const { host } = args;
        const common = { HOST_LABEL: name, OWNER: args.owner };

        const restoreVars = {
            ...common,
            RESTART_COMMAND: args.restartCommand,
            WAIT_SECONDS: args.waitSeconds,
            ...(args.logCommand ? { DAEMON_LOG_COMMAND: args.logCommand } : {}),
        };
        this.backup = new command.remote.Command(
            `${name}-backup`,
            scriptedCommandArgs(
                host.connection,
                "daemon-config-backup",
                {
                    create: renderScript("daemon-config-backup", { ...common, ACTION: "keep" }),
                    // Restore (a no-op when the apply's delete did it) and only then forget: a run
                    // killed during `up` can leave our daemon.json with no apply in the state, and
                    // the original must not be thrown away then.
                    delete: renderScript("daemon-config-restore", { ...restoreVars, FORGET: "true" }),
                },
                // Progress a person can follow on stderr; stdout is the original file, as data
                // (base64 on one line, which must not reach the engine's log: a line over 64 KiB
                // would stall pulumi-command's log reader).
                "stderr",
            ),
            { parent: this, dependsOn: [host.checked] },
        );

        this.content = pulumi
            .all([this.backup.stdout, args.clusterStore, args.clusterAdvertise])
            .apply(([stdout, clusterStore, clusterAdvertise]) => {
                try {
                    return mergeDaemonJson(originalFromBackup(stdout), { clusterStore, clusterAdvertise, clusterStoreOpts: { ...args.clusterStoreOpts } }, name);
                } catch (e) {
                    if (e instanceof DaemonJsonError) throw new pulumi.ResourceError(e.message, this);
                    throw e;
                }
            });

        const applyScript = pulumi
            .all([this.content, args.clusterStore, host.overlayUnderlayAddress])
            .apply(([content, clusterStore, address]) =>
                renderScript("daemon-config-apply", {
                    ...common,
                    CONTENT_BASE64: Buffer.from(content, "utf8").toString("base64"),
                    EXPECT_CLUSTER_STORE: clusterStore,
                    // Containers must not join the overlay before this daemon gossips (docs/lab.md).
                    GOSSIP_ADDRESS: `${address.includes(":") ? `[${address}]` : address}:${SERF_PORT}`,
                    RESTART_COMMAND: args.restartCommand,
                    WAIT_SECONDS: args.waitSeconds,
                    ...(args.logCommand ? { DAEMON_LOG_COMMAND: args.logCommand } : {}),
                    APPLY_EPOCH: args.epoch ?? 0,
                }),
            );
        const restoreScript = renderScript("daemon-config-restore", restoreVars);

        if (args.environment !== undefined || args.tls !== undefined) {
            // The files hold secrets: the rendered script is a secret output, so stdin is too.
            const write = pulumi
                .secret(pulumi.all([args.environment, args.tls?.key]))
                .apply(([content, key]) =>
                    renderScript("daemon-env", {
                        ...common,
                        ACTION: "write",
                        ...(content !== undefined ? { ENV_CONTENT: content } : {}),
                        ...(args.tls && key !== undefined ? { TLS_CA: args.tls.ca, TLS_CERT: args.tls.cert, TLS_KEY: key } : {}),
                    }),
                );
            this.env = new command.remote.Command(
                `${name}-env`,
                scriptedCommandArgs(host.connection, "daemon-env", { create: write, update: write, delete: renderScript("daemon-env", { ...common, ACTION: "remove" }) }, "stderr"),
                { parent: this, dependsOn: [host.checked] },
            );
        }

        this.apply = new command.remote.Command(
            `${name}-apply`,
            scriptedCommandArgs(
                host.connection,
                "daemon-config-apply",
                // A changed file is applied in place (the original backup stays the original).
                { create: applyScript, update: applyScript, delete: restoreScript },
                // Progress a person can follow; nothing secret passes through these scripts.
                "stdoutAndStderr",
            ),
            // No customTimeouts: pulumi-command does not enforce them. The scripts bound every
            // wait themselves (WAIT_SECONDS for the daemon, `timeout` around every command).
            // After the environment file: the restart must start dockerd with it; and destroy
            // removes the file only once the daemon.json without the store is back.
            { parent: this, dependsOn: [this.backup, ...(this.env ? [this.env] : [])] },
        );

        this.registerOutputs({ content: this.content });
    }
}

/** The original daemon.json as `daemon-config-backup.sh` reports it (undefined: there was none). */
export function originalFromBackup(stdout: string): string | undefined {
    const parsed = JSON.parse(stdout.trim()) as { present: boolean; contentBase64?: string };
    return parsed.present ? Buffer.from(parsed.contentBase64 ?? "", "base64").toString("utf8") : undefined;
}
