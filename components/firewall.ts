import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterConfig } from "./config";
import { SERF_PORT } from "./daemonConfig";
import { DockerHost } from "./dockerHost";
import { renderScript } from "./hostScripts";
import { scriptedCommandArgs } from "./remoteScript";

/** The ports `firewall: true` closes to everyone but the cluster: TCP and UDP, and the TCP ones the machine running `pulumi` keeps. */
export interface FirewallPorts {
    tcp: string[];
    udp: string[];
    /** The store's HTTP port when the stack's Consul provider (and the program) talk to it. */
    operator: string[];
}

/**
 * Internal. Exported for testing. Every port of the cluster that one of its hosts may listen on:
 * the store's (Consul: its HTTP port, RPC 8300, serf 8301-8302, DNS 8600; etcd: its client port and
 * 2380 for its peers), swarm's 2377, Docker's gossip 7946 and VXLAN 4789. The same set on every
 * host: a port nothing listens on costs nothing.
 */
export function firewallPorts(c: Pick<ClusterConfig, "kv">): FirewallPorts {
    const kv = c.kv;
    const store =
        kv?.backend === "consul"
            ? { tcp: [String(kv.port), "8300:8302", "8600"], udp: ["8301:8302", "8600"] }
            : kv?.backend === "etcd"
              ? { tcp: [String(kv.port), "2380"], udp: [] }
              : { tcp: [], udp: [] };
    return {
        tcp: [...store.tcp, "2377", String(SERF_PORT)],
        udp: [...store.udp, String(SERF_PORT), "4789"],
        operator: kv?.backend === "consul" ? [String(kv.port)] : [],
    };
}

export interface FirewallArgs {
    /** Every host of the cluster, by name. */
    hosts: Record<string, DockerHost>;
    /** What decides the ports (`kv`). */
    config: Pick<ClusterConfig, "kv">;
    /** The stack ("<project>/<stack>") the hosts belong to (lib/owner.sh). */
    owner: string;
}

/**
 * `firewall: true`: on every host, iptables rules in a chain of their own (firewall.sh) that let
 * only the cluster's hosts (their underlay addresses, as each host reported them) reach the
 * cluster's ports, and the machine running `pulumi` the store's HTTP port (the address its SSH
 * session comes from). Destroy takes out the chain and its jump, nothing else.
 */
export class Firewall extends pulumi.ComponentResource {
    /** Each host's rules, by host name. */
    public readonly rules: Record<string, command.remote.Command>;

    constructor(name: string, args: FirewallArgs, opts?: pulumi.ComponentResourceOptions) {
        super("docker-overlay:firewall:Firewall", name, {}, opts);
        const ports = firewallPorts(args.config);
        const peers = pulumi.all(Object.values(args.hosts).map((h) => h.overlayUnderlayAddress));
        this.rules = {};
        for (const [hostName, host] of Object.entries(args.hosts)) {
            const common = { HOST_LABEL: hostName, OWNER: args.owner };
            const apply = peers.apply((addresses) =>
                renderScript("firewall", { ...common, ACTION: "apply", PEERS: [...new Set(addresses)].sort(), TCP_PORTS: ports.tcp, UDP_PORTS: ports.udp, OPERATOR_PORTS: ports.operator }),
            );
            this.rules[hostName] = new command.remote.Command(
                `${name}-${hostName}`,
                scriptedCommandArgs(host.connection, "firewall", { create: apply, update: apply, delete: renderScript("firewall", { ...common, ACTION: "remove" }) }, "stderr"),
                { parent: this, dependsOn: Object.values(args.hosts).map((h) => h.checked) },
            );
        }
        this.registerOutputs({});
    }
}
