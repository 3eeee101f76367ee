// What a program gives OverlayCluster: the settings a stack file holds under `docker-overlay:`
// (README, "Config reference"), as typed args. They are checked by the stack file's own schema
// (config.ts), so a bad value gets the same message whether it came from a stack file or from a
// program. Pure: no Pulumi runtime, so the tests call it directly.
import { type ClusterConfig, ConfigError, parseConfig, type RawConfig } from "./config";
import { insecureWarning, resolveHostKeys, unpinnedProblems } from "./hostKeys";

/** One Docker server, reached over SSH. */
export interface HostSettings {
    /** Our name for the host, used in resource names and messages: a lowercase letter, then up to 31 lowercase letters, digits or `-`. Required. */
    name: string;
    /** Where SSH reaches it: an IPv4 or IPv6 address, or a DNS name. Required. */
    address: string;
    /** The SSH port. Default: `22`. */
    sshPort?: number;
    /** The SSH user; it runs `docker` and writes /etc/docker. Default: `root`. */
    sshUser?: string;
    /**
     * The host's SSH public key (`ssh-ed25519 AAAA...` or `ecdsa-sha2-nistp256 AAAA...`, without
     * a comment): every SSH client of the cluster accepts only this key. Default: the key
     * `ssh.knownHostsFile` has for the host; one of the two is required unless
     * `ssh.insecureAcceptAnyHostKey`. RSA keys are refused (pulumi-command would offer only SHA-1).
     */
    hostKey?: string;
    /** Swarm mode: `manager` or `worker`; the first manager initialises the swarm. Default: the first host is the manager, the others are workers. */
    swarmRole?: "manager" | "worker";
}

/** The KV store (kv mode; in swarm mode only Consul, as the service registry). */
export interface KvSettings {
    /** `consul` or `etcd` (`zookeeper` is refused: its Docker store crashes dockerd). Default: `consul`. */
    backend?: "consul" | "etcd";
    /** The `hosts[].name` that runs the store: one server. Give this or `servers`. */
    host?: string;
    /** A cluster instead: the 3 or 5 `hosts[].name`s that run its servers; the first is where the stack talks to the store. */
    servers?: string[];
    /** The store's image. Default: `hashicorp/consul:1.15.4` (Consul) or `quay.io/coreos/etcd:v3.4.34` (etcd; Docker speaks its v2 API). */
    image?: string;
    /** The store's port. Default: `8500` (Consul) or `2379` (etcd). */
    port?: number;
    /** Pull the image; `false`: it must already be on the host. Default: `true`. */
    pull?: boolean;
    /** Consul only: ACLs on, default deny, with the secret `consulAclToken` (a UUID) as the management token. Default: `false`. */
    acl?: boolean;
    /** Consul only: its HTTP API over HTTPS, with client certificates: the CA's and the agents' certificate, PEM (the key is `consulTlsKey`). Default: plain HTTP. */
    tls?: { ca: string; cert: string };
}

/** The overlay network. */
export interface NetworkSettings {
    /** The Docker network's name. Default: `my_overlay`. */
    name?: string;
    /** Its subnet in CIDR form; must not contain any host's address. Default: Docker's choice. */
    subnet?: string;
    /** Its gateway, inside `subnet`. Default: Docker's choice. */
    gateway?: string;
    /** The underlay's MTU (576-9000), as Docker's overlay driver means it: containers get 50 less (VXLAN). Default: Docker's, 1500. */
    mtu?: number;
}

/** A port a service publishes on its host. */
export interface PortSettings {
    /** The port inside the container. Required. */
    internal: number;
    /** The port on the host. Default: Docker's choice. */
    external?: number;
    /** `tcp` or `udp`. Default: `tcp`. */
    protocol?: "tcp" | "udp";
}

/** A container on one host, attached to the overlay. */
export interface ServiceSettings {
    /** The container's name, also its DNS name on the overlay. Required. */
    name: string;
    /** The `hosts[].name` it runs on. Required. */
    host: string;
    /** Its image, such as `nginx:1.27`. Required. */
    image: string;
    /** Its command, as a list of words. Default: the image's. */
    command?: string[];
    /** Its environment. Default: `{}`. */
    env?: Record<string, string>;
    /** More DNS names on the overlay. Default: `[]`. */
    aliases?: string[];
    /** Ports published on the host. Default: `[]`. */
    ports?: PortSettings[];
    /** The port it answers on at its overlay address, registered in Consul. Default: the first `ports[].internal`. */
    port?: number;
    /** Register it in the cluster's Consul with its overlay address (needs `kv.backend: consul`). Default: `false`. */
    registerInConsul?: boolean;
    /** Pull the image; `false`: it must already be on the host. Default: `true`. */
    pull?: boolean;
}

/** How Docker is handled on the hosts. */
export interface DockerSettings {
    /** How to restart Docker, as argv (never through a shell). Default: `["systemctl", "restart", "docker"]`. */
    restartCommand?: string[];
    /** Prints the daemon's recent log when a restart fails (argv). Default: `journalctl -u docker` where it exists. */
    logCommand?: string[];
    /** The port in `cluster-advertise` (`interface:port`, kv mode). Default: `2376`. */
    advertisePort?: number;
    /** How long to wait for a restarted daemon (5-600 s); also the limit of the restart command. Default: `60`. */
    waitSeconds?: number;
    /** kv mode: Docker's `cluster-store-opts`. Default: `{"discovery.heartbeat": "3", "discovery.ttl": "20"}`. */
    clusterStoreOpts?: Record<string, string>;
}

/** The cross-host check after the services. */
export interface ConnectivitySettings {
    /** Run it. Default: `true`. */
    enabled?: boolean;
    /** The probe image; it needs `ping` and `sleep`. Default: `busybox:1.36`. */
    image?: string;
    /** Pull the image. Default: `true`. */
    pull?: boolean;
}

/** How SSH host keys are checked. */
export interface SshSettings {
    /** A known_hosts file to take a host's key from where `hosts[].hostKey` is not set; `~/` is the home directory. Default: none. */
    knownHostsFile?: string;
    /** Lab only: accept any key from hosts whose key is not known, with a warning on every run. Default: `false`. */
    insecureAcceptAnyHostKey?: boolean;
}

/**
 * The cluster's settings: the stack file's keys, less the program's own (`preflight`, and
 * `mode: auto`, which needs preflight to read the engines).
 */
export interface ClusterSettings {
    /** `kv` (Docker 22 and older, an external KV store) or `swarm` (any engine; the only choice from Docker 23 on). Required. */
    mode: "kv" | "swarm";
    /** The Docker servers, at least one. Required. */
    hosts: HostSettings[];
    /** The KV store: required in kv mode; in swarm mode optional, Consul only, as the service registry. Default: none. */
    kv?: KvSettings;
    /** The overlay network. Default: `{name: "my_overlay"}`. */
    network?: NetworkSettings;
    /** Containers on the overlay. Default: `[]`. */
    services?: ServiceSettings[];
    /** How Docker is handled on the hosts. Default: see each field. */
    docker?: DockerSettings;
    /** The cross-host check. Default: `{enabled: true}`. */
    connectivity?: ConnectivitySettings;
    /** How host keys are checked. Default: every host's key pinned in `hosts[].hostKey`. */
    ssh?: SshSettings;
    /** iptables rules on every host so that the cluster's ports accept only its hosts. Default: `false`. */
    firewall?: boolean;
}

/** Every setting is a key of the stack file's schema: a field it does not know fails to compile here. */
const asRaw = (s: ClusterSettings): RawConfig => s;

/**
 * Validates the settings with the stack file's schema and fills in defaults; takes each host's
 * key from `ssh.knownHostsFile` where `hostKey` is not set. Without preflight nothing shows the
 * key a host presents, so a host whose key is known nowhere is refused (unless
 * `ssh.insecureAcceptAnyHostKey`: then `warning` names the hosts that go unchecked).
 * @param where what to name in the error's first line, e.g. `OverlayCluster "overlay"`
 * @throws ConfigError listing every problem, in the words a stack file gets
 */
export function clusterConfigOf(settings: ClusterSettings, where: string): { config: ClusterConfig; warning?: string } {
    const config = parseConfig(asRaw(settings), where);
    const { hosts, problems } = resolveHostKeys(config.hosts, config.ssh);
    problems.push(...unpinnedProblems(hosts, config.ssh));
    if (problems.length > 0) throw new ConfigError(where, problems);
    const warning = config.ssh.insecureAcceptAnyHostKey ? insecureWarning(hosts) : undefined;
    return { config: { ...config, hosts }, ...(warning ? { warning } : {}) };
}

/**
 * A validated config as settings again: `clusterConfigOf(settingsOf(c))` gives `c` back (the stack
 * program's way in). Every key is carried over, whether or not ClusterSettings names it yet.
 */
export function settingsOf(c: ClusterConfig): ClusterSettings {
    const { preflight: _programs, kv, ...rest } = c;
    if (!kv) return rest;
    // `kv.host` is the first of `kv.servers` once validated; the schema takes one or the other.
    const { host, servers, ...kvRest } = kv;
    return { ...rest, kv: { ...kvRest, ...(servers.length > 1 ? { servers } : { host }) } };
}
