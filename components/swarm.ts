import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { DockerHost } from "./dockerHost";
import { scriptedCommandArgs } from "./remoteScript";
import { renderScript } from "./hostScripts";

export interface SwarmMember {
    /** Our name for the host. */
    name: string;
    host: DockerHost;
    role: "manager" | "worker";
    /** Drift epoch (components/drift.ts): a new value joins the host again, which records it there. */
    epoch?: number;
}

export interface SwarmArgs {
    /** Every host; the first manager initialises the swarm, the others join. */
    members: SwarmMember[];
    /** The manager's swarm port. */
    managerPort?: number;
    /** The stack ("<project>/<stack>") the host is recorded as belonging to; another stack's host is refused (lib/owner.sh). */
    owner: string;
}

/**
 * Swarm mode, the control plane every current engine has: `swarm init` on the first manager at
 * its detected address, join tokens read as secrets (never logged, encrypted in state), the
 * other hosts join with their role. A host already in this swarm is left alone; a host in
 * another swarm is refused. Destroy makes each host leave, but only where we made it join.
 */
export class Swarm extends pulumi.ComponentResource {
    public readonly init: command.remote.Command;
    /** Every host's membership command (the first manager's is `init`). */
    public readonly memberships: command.remote.Command[];
    /** The same, by host name. */
    public readonly membershipOf: Record<string, command.remote.Command>;
    /** Only after a host joined again (drift): removes the nodes it left behind. */
    public readonly prune?: command.remote.Command;
    /** `address:port` of the first manager. */
    public readonly managerAddress: pulumi.Output<string>;

    constructor(name: string, args: SwarmArgs, opts?: pulumi.ComponentResourceOptions) {
        super("docker-overlay:swarm:Swarm", name, {}, opts);
        const first = args.members.find((m) => m.role === "manager");
        if (!first) throw new pulumi.ResourceError("swarm mode needs at least one host with `swarmRole: manager`", this);
        const port = args.managerPort ?? 2377;

        this.init = new command.remote.Command(
            `${name}-init-${first.name}`,
            scriptedCommandArgs(
                first.host.connection,
                "swarm-init",
                {
                    create: first.host.overlayUnderlayAddress.apply((address) =>
                        renderScript("swarm-init", { HOST_LABEL: first.name, OWNER: args.owner, ADVERTISE_ADDRESS: address }),
                    ),
                    delete: renderScript("swarm-leave", { HOST_LABEL: first.name, OWNER: args.owner, MARKER: "swarm-created" }),
                },
                "stderr",
            ),
            { parent: this, dependsOn: [first.host.checked] },
        );

        const tokens = new command.remote.Command(
            `${name}-tokens`,
            scriptedCommandArgs(first.host.connection, "swarm-tokens", { create: renderScript("swarm-tokens", { HOST_LABEL: first.name }) }, "none"),
            { parent: this, dependsOn: [this.init], additionalSecretOutputs: ["stdout"] },
        );
        const tokenFor = (role: "manager" | "worker") =>
            pulumi.secret(tokens.stdout.apply((out) => (JSON.parse(out) as Record<string, string>)[role] ?? ""));

        this.managerAddress = first.host.overlayUnderlayAddress.apply((a) => `${a.includes(":") ? `[${a}]` : a}:${port}`);

        const others = args.members.filter((m) => m !== first);
        const joins = others.map(
                (m) =>
                    new command.remote.Command(
                        `${name}-join-${m.name}`,
                        scriptedCommandArgs(
                            m.host.connection,
                            "swarm-join",
                            {
                                // Holds the join token: a secret, so stdin is encrypted in the state.
                                create: pulumi
                                    .all([this.managerAddress, tokenFor(m.role), m.host.overlayUnderlayAddress])
                                    .apply(([managerAddress, token, address]) =>
                                        renderScript("swarm-join", {
                                            HOST_LABEL: m.name,
                                            OWNER: args.owner,
                                            MANAGER_ADDRESS: managerAddress,
                                            JOIN_TOKEN: token,
                                            ADVERTISE_ADDRESS: address,
                                            ROLE: m.role,
                                            JOIN_EPOCH: m.epoch ?? 0,
                                        }),
                                    ),
                                delete: renderScript("swarm-leave", { HOST_LABEL: m.name, OWNER: args.owner, MARKER: "swarm-joined" }),
                            },
                            "stderr",
                        ),
                        { parent: this, dependsOn: [tokens, m.host.checked] },
                    ),
            );
        this.memberships = [this.init, ...joins];
        this.membershipOf = Object.fromEntries([[first.name, this.init], ...others.map((m, i) => [m.name, joins[i]!] as const)]);

        // A host that joined again (drift) left its old node behind, down, with tasks that keep the
        // overlay in use: once any host has, the first manager removes such nodes after the joins.
        const epochs = args.members.map((m) => `${m.name}=${m.epoch ?? 0}`).join(",");
        if (args.members.some((m) => (m.epoch ?? 0) > 0)) {
            const nodeIds = pulumi.all(this.memberships.map((c) => c.stdout)).apply((outs) => outs.map((o) => (JSON.parse(o) as { nodeId: string }).nodeId));
            const hostnames = pulumi.all(args.members.map((m) => m.host.hostname));
            this.prune = new command.remote.Command(
                `${name}-prune`,
                {
                    ...scriptedCommandArgs(
                        first.host.connection,
                        "swarm-prune",
                        { create: pulumi.all([hostnames, nodeIds]).apply(([HOSTNAMES, CURRENT]) => renderScript("swarm-prune", { HOST_LABEL: first.name, HOSTNAMES, CURRENT })) },
                        "stderr",
                    ),
                    triggers: [epochs],
                },
                { parent: this, dependsOn: this.memberships },
            );
        }

        this.registerOutputs({ managerAddress: this.managerAddress });
    }
}
