import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { type HostFacts, parseHostFacts, summarize, type HostSummary } from "./hostFacts";
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
    /**
     * The host's facts as the program's preflight read them in this run (the same script). Given,
     * the host uses them and runs no facts command of its own: one read per run, known in preview.
     * Without (a library user, `preflight.enabled: false`), `host-facts.sh` runs once as a remote
     * command when the host is created.
     */
    facts?: HostFacts;
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
    /** Without preflight's facts: runs `host-facts.sh` once (the script preview's preflight runs), failing when Docker does not answer or the peer has no route. */
    public readonly factsCommand?: command.remote.Command;
    /** What later steps on this host wait for: the facts command, or `reachable` when preflight read the facts. */
    public readonly checked: pulumi.Resource;
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

        if (args.facts) {
            // Read by preflight in this run (which refused the run had Docker not answered or the
            // peer no route); a bad summary is still reported here, naming the host.
            this.facts = pulumi.output(summaryOf(args.facts, args.routeTarget, name, this));
            this.checked = this.reachable;
        } else {
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
            this.checked = this.factsCommand;
        }
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

/** The summary of `host-facts.sh`'s output (or of the facts preflight parsed from it) towards PEER; a bad line means the script or the host is broken. */
function summaryOf(facts: string | HostFacts, peer: string, host: string, resource?: pulumi.Resource): HostSummary {
    try {
        return summarize(typeof facts === "string" ? parseHostFacts(facts) : facts, peer);
    } catch (e) {
        const msg = `host ${host}: could not read the host's facts: ${(e as Error).message}`;
        throw resource ? new pulumi.ResourceError(msg, resource) : new Error(msg);
    }
}
