// How each KV store runs in its container. Pure: tests check the arguments directly.
import { KvConfig } from "./config";

export interface KvContainerSpec {
    command: string[];
    envs: string[];
    /** Where the store keeps its data inside the container (a named volume is mounted there). */
    dataPath: string;
}

/**
 * The container command and environment for a single-server store on the host network.
 * @param iface the host interface that routes to the peers (Consul binds to it, as in the seed)
 * @param address the host's address on that interface (what the other daemons connect to)
 */
export function kvContainerSpec(kv: KvConfig, iface: string, address: string): KvContainerSpec {
    switch (kv.backend) {
        case "consul":
            // The seed runs `consul agent -dev`: in-memory, so a restart forgets every network.
            // A single server with a data directory keeps the overlay's state across restarts.
            return {
                // raft_multiplier 1: HashiCorp's production setting (the default 5 is for small dev
                // machines); a restarted server elects itself in about a second, not five.
                command: ["agent", "-server", "-bootstrap-expect=1", "-ui", "-client=0.0.0.0", `-http-port=${kv.port}`, "-data-dir=/consul/data", "-hcl=performance { raft_multiplier = 1 }"],
                envs: [`CONSUL_BIND_INTERFACE=${iface}`],
                dataPath: "/consul/data",
            };
        case "etcd": {
            const host = address.includes(":") ? `[${address}]` : address;
            return {
                // Docker's libkv speaks etcd's v2 API, which 3.4 serves only when asked to.
                command: [
                    "etcd",
                    "--name=docker-overlay",
                    "--data-dir=/etcd-data",
                    "--enable-v2=true",
                    `--listen-client-urls=http://0.0.0.0:${kv.port}`,
                    `--advertise-client-urls=http://${host}:${kv.port}`,
                    "--listen-peer-urls=http://127.0.0.1:2380",
                    "--initial-advertise-peer-urls=http://127.0.0.1:2380",
                    "--initial-cluster=docker-overlay=http://127.0.0.1:2380",
                ],
                envs: [],
                dataPath: "/etcd-data",
            };
        }
    }
}
