import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { parseHostFacts, summarize, type HostSummary } from "./hostFacts";
import { scriptedCommandArgs } from "./remoteScript";
import { renderScript } from "./hostScripts";
import { privateKeyFile, sshOptions } from "./sshFiles";

export interface DockerHostArgs {
    /** Address SSH reaches the host at. */
    address: string;
    /** SSH port. */
    sshPort: number;
    /** SSH user; needs to run `docker` and write /etc/docker. */
    sshUser: string;
    /** The host's SSH public key ("ssh-ed25519 AAAA..."): every SSH client of the stack accepts only it. */
    hostKey?: string;
    /** Without `hostKey`: accept whatever key the host presents. Lab only; one of the two is required. */
    acceptAnyHostKey?: boolean;
    /** The SSH private key (a secret). */
    privateKey: pulumi.Input<string>;
    /** A peer's address: the interface that routes to it is the one the overlay uses. */
    routeTarget: string;
}

/**
 * One Docker server: the SSH connection every command on it uses, a first "reachable" command
 * the rest depend on, the facts later steps need (engine version, hostname, the interface and
 * address that route to the peers, MTU), and a `docker` provider bound to this host.
 */
export class DockerHost extends pulumi.ComponentResource {
    /** The connection for `remote.Command`s on this host. */
    public readonly connection: command.types.input.remote.ConnectionArgs;
    /** Succeeds once SSH works; everything on this host depends on it. */
    public readonly reachable: command.remote.Command;
    /** Runs `host-facts.sh` once (the script preview's preflight runs), failing when Docker does not answer or the peer has no route. */
    public readonly factsCommand: command.remote.Command;
    public readonly facts: pulumi.Output<HostSummary>;
    public readonly engineVersion: pulumi.Output<string>;
    public readonly hostname: pulumi.Output<string>;
    /** The interface that routes to the peers (never assumed to be eth0 or ens33). */
    public readonly interface: pulumi.Output<string>;
    /** This host's address on that interface. */
    public readonly overlayUnderlayAddress: pulumi.Output<string>;
    /** A `docker` provider that talks to this host's daemon over SSH. */
    public readonly provider: docker.Provider;

    constructor(name: string, args: DockerHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("docker-overlay:host:DockerHost", name, {}, opts);
        if (!args.hostKey && !args.acceptAnyHostKey)
            throw new pulumi.ResourceError(
                `${name}: no SSH host key is pinned for ${args.address}:${args.sshPort}, so its remote commands would trust whoever answers there. Give \`hostKey\` ("ssh-ed25519 AAAA..."), or \`acceptAnyHostKey: true\` on a lab`,
                this,
            );

        this.connection = {
            host: args.address,
            port: args.sshPort,
            user: args.sshUser,
            privateKey: args.privateKey,
            ...(args.hostKey ? { hostKey: args.hostKey } : {}),
            dialErrorLimit: 4,
            perDialTimeout: 15,
        };

        this.reachable = new command.remote.Command(
            `${name}-reachable`,
            { connection: this.connection, create: "true", logging: "stderr", addPreviousOutputInEnv: false },
            { parent: this },
        );

        this.factsCommand = new command.remote.Command(
            `${name}-facts`,
            scriptedCommandArgs(
                this.connection,
                "host-facts",
                { create: renderScript("host-facts", { PEERS: [args.routeTarget], HOST_LABEL: name, STRICT: 1, DOCKER_TIMEOUT: 30 }) },
                "stderr",
            ),
            { parent: this, dependsOn: [this.reachable] },
        );
        this.facts = this.factsCommand.stdout.apply((out) => summaryOf(out, args.routeTarget, name, this));
        this.engineVersion = this.facts.engineVersion;
        this.hostname = this.facts.hostname;
        this.interface = this.facts.interface;
        this.overlayUnderlayAddress = this.facts.address;

        const sshOpts = pulumi
            .output(args.privateKey)
            .apply((key) => sshOptions(privateKeyFile(key), args.address, args.sshPort, args.hostKey));
        this.provider = new docker.Provider(
            `${name}-docker`,
            { host: `ssh://${args.sshUser}@${args.address}:${args.sshPort}`, sshOpts },
            { parent: this, dependsOn: [this.reachable] },
        );

        this.registerOutputs({
            engineVersion: this.engineVersion,
            hostname: this.hostname,
            interface: this.interface,
            overlayUnderlayAddress: this.overlayUnderlayAddress,
        });
    }
}

/** The summary of `host-facts.sh`'s output towards PEER; a bad line means the script or the host is broken. */
function summaryOf(stdout: string, peer: string, host: string, resource?: pulumi.Resource): HostSummary {
    try {
        return summarize(parseHostFacts(stdout), peer);
    } catch (e) {
        const msg = `host ${host}: could not read the host's facts: ${(e as Error).message}`;
        throw resource ? new pulumi.ResourceError(msg, resource) : new Error(msg);
    }
}
