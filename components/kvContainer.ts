// How each KV store runs in its containers, one per host of the store. Pure: tests check the
// arguments directly.
import { KvConfig } from "./config";

export interface KvContainerSpec {
    command: string[];
    envs: string[];
    /** Where the store keeps its data inside the container (a named volume is mounted there). */
    dataPath: string;
}

/** What a host of the store runs: a server (one of `kv.servers`), or a Consul client agent. */
export type KvRole = "server" | "client";

/** One host of the store as the others see it: its stack name and its underlay address. */
export interface KvPeer {
    name: string;
    address: string;
}

/**
 * Where a Consul container finds its ACL settings (`kv.acl`): a file the docker provider uploads
 * into the container before it starts (the token is never in the container's command or
 * environment). Not under /consul/config, which the hashicorp/consul image's entrypoint loads too.
 */
export const CONSUL_ACL_FILE = "/consul/docker-overlay-acl.json";

/**
 * The ACL settings of one Consul agent (`kv.acl`): default deny; TOKEN (a UUID) is the servers'
 * initial management token, and every agent's own token (for its node's catalog entry).
 */
export function consulAclConfig(role: KvRole, token: string): string {
    const tokens = role === "server" ? { initial_management: token, agent: token } : { agent: token };
    // down_policy extend-cache: an agent that cannot reach a server keeps the answers it had
    // (Consul's default), so a daemon keeps its session while the servers elect a leader.
    return JSON.stringify({ acl: { enabled: true, default_policy: "deny", down_policy: "extend-cache", enable_token_persistence: true, tokens } }, null, 2) + "\n";
}

/**
 * Where a Consul container finds its HTTPS settings and files (`kv.tls`), uploaded by the docker
 * provider before it starts, like CONSUL_ACL_FILE.
 */
export const CONSUL_TLS_DIR = "/consul/docker-overlay-tls";
export const CONSUL_TLS_FILE = "/consul/docker-overlay-tls.json";

/**
 * The HTTPS settings of one Consul agent (`kv.tls`): the HTTP API on loopback only (the checks
 * that run on the host itself: kv-wait), HTTPS with client certificates from the CA on SELF, the
 * host's underlay address, on the same port: every address another machine reaches speaks only
 * HTTPS, and only to holders of a certificate from the CA. The cluster's own RPC and gossip are
 * not changed (their ports are closed to other machines by `firewall: true`).
 */
export function consulTlsConfig(self: string, port: number): string {
    const files = { ca_file: `${CONSUL_TLS_DIR}/ca.pem`, cert_file: `${CONSUL_TLS_DIR}/cert.pem`, key_file: `${CONSUL_TLS_DIR}/key.pem` };
    return (
        JSON.stringify(
            {
                tls: { https: { ...files, verify_incoming: true } },
                addresses: { http: "127.0.0.1", https: self },
                ports: { http: port, https: port },
            },
            null,
            2,
        ) + "\n"
    );
}

const bracket = (address: string) => (address.includes(":") ? `[${address}]` : address);

/**
 * The container command and environment of one host of the store, on the host network.
 * @param iface the host interface that routes to the peers (Consul binds to it, as in the seed)
 * @param self this host (its name and its address on that interface)
 * @param servers every server of the store, in `kv.servers` order (with `self` when it is one)
 */
export function kvContainerSpec(kv: KvConfig, iface: string, self: KvPeer, role: KvRole, servers: readonly KvPeer[]): KvContainerSpec {
    const cluster = servers.length > 1;
    const others = servers.filter((s) => s.name !== self.name);
    switch (kv.backend) {
        case "consul": {
            // The seed runs `consul agent -dev`: in-memory, so a restart forgets every network.
            // Servers keep their data in a volume. raft_multiplier 1: HashiCorp's production
            // setting (the default 5 is for small dev machines); a restarted server elects itself
            // in about a second, not five.
            // The HTTP API (and DNS) on loopback and the underlay address only, never on every
            // interface of the host (a public one, docker0): the daemons, the stack and the checks
            // reach it at one of those two.
            // With `kv.tls`, the underlay address speaks HTTPS only (consulTlsConfig).
            const common = [
                `-client=127.0.0.1 ${self.address}`,
                `-http-port=${kv.port}`,
                "-data-dir=/consul/data",
                ...(kv.acl ? [`-config-file=${CONSUL_ACL_FILE}`] : []),
                ...(kv.tls ? [`-config-file=${CONSUL_TLS_FILE}`] : []),
            ];
            const join = others.map((s) => `-retry-join=${bracket(s.address)}`);
            const command =
                role === "client"
                    ? ["agent", ...common, ...join]
                    : ["agent", "-server", `-bootstrap-expect=${servers.length}`, "-ui", ...common, "-hcl=performance { raft_multiplier = 1 }", ...join];
            return { command, envs: [`CONSUL_BIND_INTERFACE=${iface}`], dataPath: "/consul/data" };
        }
        case "etcd": {
            if (role === "client") throw new Error("docker-overlay: an etcd store has no client agents; every daemon talks to its members");
            const peerUrl = (p: KvPeer) => `http://${bracket(p.address)}:2380`;
            // Docker's libkv speaks etcd's v2 API, which 3.4 serves only when asked to.
            return {
                command: [
                    "etcd",
                    `--name=${cluster ? self.name : "docker-overlay"}`,
                    "--data-dir=/etcd-data",
                    "--enable-v2=true",
                    // Loopback and the underlay address only (not every interface: see consul above).
                    `--listen-client-urls=http://127.0.0.1:${kv.port},http://${bracket(self.address)}:${kv.port}`,
                    `--advertise-client-urls=http://${bracket(self.address)}:${kv.port}`,
                    ...(cluster
                        ? [
                              `--listen-peer-urls=${peerUrl(self)}`,
                              `--initial-advertise-peer-urls=${peerUrl(self)}`,
                              `--initial-cluster=${servers.map((s) => `${s.name}=${peerUrl(s)}`).join(",")}`,
                              "--initial-cluster-state=new",
                          ]
                        : [
                              "--listen-peer-urls=http://127.0.0.1:2380",
                              "--initial-advertise-peer-urls=http://127.0.0.1:2380",
                              "--initial-cluster=docker-overlay=http://127.0.0.1:2380",
                          ]),
                ],
                envs: [],
                dataPath: "/etcd-data",
            };
        }
    }
}
