// The stack's configuration: its schema, its defaults, and the checks that refuse a bad stack
// file at `pulumi preview`, before any host is touched. Pure: no Pulumi import, so the tests
// call it directly. `index.ts` is the only caller that reads Pulumi config.
import * as ipaddr from "ipaddr.js";
import { z } from "zod";
import type { ConsulTlsConfig } from "./consulTls";

/** The config namespace: keys are `docker-overlay:<key>` in `Pulumi.<stack>.yaml`. */
export const CONFIG_NAMESPACE = "docker-overlay";

export const MODES = ["kv", "swarm"] as const;
/** What a stack file may ask for: a mode, or `auto` (decided from the engines preflight finds). */
export const REQUESTED_MODES = [...MODES, "auto"] as const;
export const KV_BACKENDS = ["consul", "etcd"] as const;
export type Mode = (typeof MODES)[number];
export type RequestedMode = (typeof REQUESTED_MODES)[number];
export type KvBackend = (typeof KV_BACKENDS)[number];

/** Defaults per KV backend. etcd stays on 3.4: Docker's cluster store speaks the v2 API, gone in 3.6. */
export const KV_DEFAULTS: Readonly<Record<KvBackend, { image: string; port: number; scheme: string }>> = {
    consul: { image: "hashicorp/consul:1.15.4", port: 8500, scheme: "consul" },
    etcd: { image: "quay.io/coreos/etcd:v3.4.34", port: 2379, scheme: "etcd" },
};

/**
 * Why the third store Docker's `cluster-store` accepts is refused (test/e2e/zookeeper.test.ts
 * shows it on the lab): libkv's ZooKeeper client lists keys by their last path element, so
 * libnetwork never finds a network's endpoint count and dockerd dies on a nil pointer the moment
 * a container joins the overlay.
 */
export const ZOOKEEPER_REFUSED =
    "Docker's ZooKeeper cluster store crashes dockerd (a nil pointer in libnetwork's endpointCnt.Key) as soon as a container joins an overlay network, which would leave the hosts without Docker: seen with Engine 20.10.24, moby's build and Debian's (libkv's ZooKeeper client lists keys by their last path element, so libnetwork never finds the network's endpoint count). Use `backend: consul` (the seed's store) or `backend: etcd`";

/** Heartbeat every 3 s (Docker's default is 20 s), entries expire after 10 s without one. */
/**
 * Docker's discovery timers for the KV store, in seconds. Docker's defaults (20 and 60) make a
 * restarted daemon wait up to 20 s before it gossips (docs/lab.md). The TTL stays at 20: Docker's
 * Consul store (libkv) asks Consul for a session of half the TTL, and Consul refuses sessions
 * shorter than 10 s, so with a TTL under 20 a daemon never registers and never joins the overlay.
 */
export const DEFAULT_CLUSTER_STORE_OPTS: Readonly<Record<string, string>> = { "discovery.heartbeat": "3", "discovery.ttl": "20" };
/** The shortest `discovery.ttl` Docker's Consul store can use (its session is half of it; Consul's minimum is 10 s). */
export const CONSUL_MIN_DISCOVERY_TTL = 20;

const NAME_HINT = "lower-case letters, digits and '-', starting with a letter, at most 32 characters";
const resourceName = z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,31}$/, `expected ${NAME_HINT}`)
    .refine((s) => !s.endsWith("-"), `expected ${NAME_HINT}, not ending with '-'`);

const DNS_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
function isDnsName(s: string): boolean {
    return s.length <= 253 && s.split(".").every((label) => DNS_LABEL.test(label)) && !/^[0-9.]+$/.test(s);
}
function isIp(s: string): boolean {
    return ipaddr.IPv4.isValidFourPartDecimal(s) || (s.includes(":") && ipaddr.IPv6.isValid(s));
}

const address = z
    .string()
    .refine((s) => isIp(s) || isDnsName(s), "expected an IPv4/IPv6 address or a DNS name (for example 192.168.87.133)");
const port = z.number().int("expected a whole number").min(1, "expected a port from 1 to 65535").max(65535, "expected a port from 1 to 65535");
const argv = z
    .array(z.string().min(1, "expected a non-empty word").refine((s) => !s.includes("\0"), "must not contain NUL"))
    .min(1, "expected a command as a list of words, for example [systemctl, restart, docker]");
const image = z
    .string()
    .regex(
        /^[a-z0-9][a-z0-9._\-/:@]*$/,
        "expected a Docker image reference such as busybox:1.36 or registry.example.com/team/app:1.2",
    )
    .max(255, "expected at most 255 characters");
const containerName = z
    .string()
    .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,62}$/, "expected 2 to 63 letters, digits, '_', '.' or '-', starting with a letter or digit, as Docker names allow");

const hostSchema = z.strictObject({
    /** Our name for the host, used in resource names and messages. */
    name: resourceName,
    /** Where SSH reaches it. */
    address,
    sshPort: port.default(22),
    sshUser: z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}$/, "expected a Unix user name such as root or deploy").default("root"),
    /** The host's SSH public key ("ssh-ed25519 AAAA..."); pinned when given. */
    hostKey: z
        .string()
        .regex(/^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}$/, "expected one public key line such as 'ssh-ed25519 AAAAC3...' (the contents of /etc/ssh/ssh_host_ed25519_key.pub without the comment)")
        // pulumi-command (1.2.1) offers only the SHA-1 signature `ssh-rsa` for a pinned RSA key,
        // which OpenSSH 8.8 and later refuse: every remote command would fail to connect.
        .refine(
            (k) => !k.startsWith("ssh-rsa "),
            "an RSA host key cannot be pinned: the remote commands (pulumi-command) would offer only the SHA-1 `ssh-rsa` signature for it, which OpenSSH 8.8 and later refuse. Pin the host's ed25519 or ECDSA key instead: the line `ssh-keyscan -t ed25519 HOST` prints (without the host name), or /etc/ssh/ssh_host_ed25519_key.pub without its comment",
        )
        .optional(),
    /** Swarm mode: this host's role. The first manager initialises the swarm. */
    swarmRole: z.enum(["manager", "worker"]).optional(),
});

const kvSchema = z.strictObject({
    backend: z.enum(KV_BACKENDS, { error: (issue) => (issue.input === "zookeeper" ? ZOOKEEPER_REFUSED : "expected consul or etcd") }).default("consul"),
    /** The `hosts[].name` that runs the KV store (one server). */
    host: z.string({ error: "expected the name of one of `hosts` (the host that runs the KV store)" }).optional(),
    /** A cluster instead: the 3 or 5 `hosts[].name`s that run its servers. */
    servers: z.array(z.string({ error: "expected the name of one of `hosts`" })).optional(),
    image: image.optional(),
    port: port.optional(),
    /** Pull the image (false: it must already be on the host). */
    pull: z.boolean().default(true),
    /**
     * Consul only: ACLs on, default deny. The secret `consulAclToken` (a UUID) becomes Consul's
     * initial management token and agent token, and every daemon's and the stack's own token.
     */
    acl: z.boolean().default(false),
    /**
     * Consul only: its HTTP API over HTTPS with client certificates (components/consulTls.ts): the
     * CA certificate and the one certificate every agent serves and every client presents, PEM;
     * the certificate's private key is the secret `consulTlsKey`.
     */
    tls: z
        .strictObject({
            ca: z.string().includes("-----BEGIN CERTIFICATE-----", { message: "expected the CA's certificate in PEM (-----BEGIN CERTIFICATE-----...): pulumi config set --path 'docker-overlay:kv.tls.ca' -- \"$(cat ca.pem)\"" }),
            cert: z.string().includes("-----BEGIN CERTIFICATE-----", { message: "expected the certificate in PEM (-----BEGIN CERTIFICATE-----...): pulumi config set --path 'docker-overlay:kv.tls.cert' -- \"$(cat consul.pem)\"" }),
        })
        .optional(),
});

const networkSchema = z.strictObject({
    name: containerName.default("my_overlay"),
    subnet: z.string().optional(),
    gateway: z.string().optional(),
    /** Docker's `com.docker.network.driver.mtu`: the underlay's MTU (1500 if unset); containers get 50 less (VXLAN). */
    mtu: z.number().int("expected a whole number").min(576, "expected an MTU from 576 to 9000").max(9000, "expected an MTU from 576 to 9000").optional(),
});

const serviceSchema = z.strictObject({
    name: containerName,
    host: z.string(),
    image,
    command: z.array(z.string()).optional(),
    env: z
        .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected an environment variable name"), z.string())
        .default({}),
    aliases: z.array(z.string().refine(isDnsName, "expected a DNS name such as api or api.internal")).default([]),
    ports: z
        .array(z.strictObject({ internal: port, external: port.optional(), protocol: z.enum(["tcp", "udp"]).default("tcp") }))
        .default([]),
    /** The port it answers on at its overlay address: registered in Consul (default: the first `ports[].internal`). */
    port: port.optional(),
    registerInConsul: z.boolean().default(false),
    /** Pull the image from its registry (false: it must already be on the host). */
    pull: z.boolean().default(true),
});

const dockerSchema = z
    .strictObject({
        /** How to restart Docker on the hosts, as argv (never passed through a shell). */
        restartCommand: argv.default(["systemctl", "restart", "docker"]),
        /** Prints the daemon's recent log when a restart fails (argv). */
        logCommand: argv.optional(),
        /** The port in `cluster-advertise` (interface:port). */
        advertisePort: port.default(2376),
        /** How long to wait for a restarted daemon. */
        waitSeconds: z.number().int().min(5, "expected at least 5 seconds").max(600, "expected at most 600 seconds").default(60),
        /**
         * kv mode: Docker's `cluster-store-opts`. The default discovery heartbeat is 20 s, and a
         * daemon's gossip only starts after a heartbeat reaches the store (docs/lab.md).
         */
        clusterStoreOpts: z.record(z.string().regex(/^[a-z0-9.]+$/, "expected an option name such as discovery.heartbeat"), z.string()).default(DEFAULT_CLUSTER_STORE_OPTS),
    })
    .default({ restartCommand: ["systemctl", "restart", "docker"], advertisePort: 2376, waitSeconds: 60, clusterStoreOpts: DEFAULT_CLUSTER_STORE_OPTS });

const connectivitySchema = z
    .strictObject({
        enabled: z.boolean().default(true),
        /** The probe image: needs `ping` (busybox has it). */
        image: image.default("busybox:1.36"),
        pull: z.boolean().default(true),
    })
    .default({ enabled: true, image: "busybox:1.36", pull: true });

const preflightSchema = z
    .strictObject({
        /** Read every host's facts over SSH during preview and refuse a cluster that cannot work. */
        enabled: z.boolean().default(true),
        /** Per host: for the SSH connection, and again for the facts script. */
        timeoutSeconds: z.number().int("expected a whole number").min(1, "expected 1 to 300 seconds").max(300, "expected 1 to 300 seconds").default(20),
    })
    .default({ enabled: true, timeoutSeconds: 20 });

const sshSchema = z
    .strictObject({
        /**
         * A known_hosts file (OpenSSH's format, hashed entries too) to take a host's key from when
         * `hosts[].hostKey` does not pin one. `~/` is the home directory.
         */
        knownHostsFile: z.string().min(1, "expected the path of a known_hosts file, such as ~/.ssh/known_hosts").optional(),
        /**
         * Lab only: connect to hosts whose key is neither pinned nor in `knownHostsFile`, accepting any
         * key they present. Whoever answers at a host's address gets the SSH session (and, in swarm
         * mode, the join token). Every run says so.
         */
        insecureAcceptAnyHostKey: z.boolean().default(false),
    })
    .default({ insecureAcceptAnyHostKey: false });

/** The raw shape of the non-secret keys. */
export const configSchema = z.strictObject({
    mode: z.enum(REQUESTED_MODES, {
        error: "expected `kv` (Docker 22 and older, external KV store), `swarm` (any engine) or `auto` (kv when every engine is 22 or older and `kv` is set, else swarm)",
    }),
    hosts: z.array(hostSchema).min(1, "expected at least one host"),
    // `{}` is "no KV store": Pulumi.yaml declares `kv` with that default, since the engine
    // treats a declared key without a default as required.
    kv: z.preprocess((v) => (v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0 ? undefined : v), kvSchema.optional()),
    network: networkSchema.default({ name: "my_overlay" }),
    services: z.array(serviceSchema).default([]),
    docker: dockerSchema,
    connectivity: connectivitySchema,
    preflight: preflightSchema,
    ssh: sshSchema,
    /**
     * iptables rules on every host (a chain of their own) so that the store's ports, 2377, 7946
     * and 4789 accept only the cluster's hosts (and the store's HTTP port the machine `pulumi`
     * runs from).
     */
    firewall: z.boolean().default(false),
});

export type RawConfig = z.input<typeof configSchema>;
type Parsed = z.output<typeof configSchema>;

export interface HostConfig {
    name: string;
    address: string;
    sshPort: number;
    sshUser: string;
    hostKey?: string;
    swarmRole: "manager" | "worker";
}
export interface KvConfig {
    backend: KvBackend;
    /** The first server: where the stack talks to the store (the registry), the hub of kv mode. */
    host: string;
    /** Every server (`kv.servers`, or just `kv.host`); more than one is a cluster. */
    servers: string[];
    image: string;
    port: number;
    pull: boolean;
    /** Consul ACLs, default deny, with `consulAclToken` as the management token (`kv.acl`). */
    acl: boolean;
    /** Consul's HTTP API over HTTPS with client certificates (`kv.tls`); the key is the secret `consulTlsKey`. */
    tls?: ConsulTlsConfig;
}
export interface NetworkConfig {
    name: string;
    subnet?: string;
    gateway?: string;
    mtu?: number;
}
export type ServiceConfig = Parsed["services"][number];
export type DockerConfig = Parsed["docker"];
export type ConnectivityConfig = Parsed["connectivity"];
export type PreflightConfig = Parsed["preflight"];
export type SshConfig = Parsed["ssh"];

/** The validated configuration, with every default filled in. */
export interface ClusterConfig {
    mode: Mode;
    hosts: HostConfig[];
    kv?: KvConfig;
    network: NetworkConfig;
    services: ServiceConfig[];
    docker: DockerConfig;
    connectivity: ConnectivityConfig;
    preflight: PreflightConfig;
    ssh: SshConfig;
    /** Packet filter rules on every host (`firewall`). */
    firewall: boolean;
}

/** The stack file as validated before the hosts are seen: `mode` may still be `auto`. */
export interface StackConfig extends Omit<ClusterConfig, "mode"> {
    mode: RequestedMode;
}

/** Raised for a stack file that cannot work; its message lists every problem, one a line. */
export class ConfigError extends Error {
    constructor(
        readonly stackFile: string,
        readonly problems: readonly string[],
    ) {
        super(
            `${stackFile} has ${problems.length === 1 ? "a problem" : `${problems.length} problems`}; nothing was changed on any host:\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

type Path = readonly PropertyKey[];

function keyOf(path: Path): string {
    let out = CONFIG_NAMESPACE + ":";
    path.forEach((p, i) => {
        if (typeof p === "number") out += `[${p}]`;
        else out += (i === 0 ? "" : ".") + String(p);
    });
    return out;
}

function valueAt(input: unknown, path: Path): unknown {
    let v: unknown = input;
    for (const p of path) {
        if (v === null || typeof v !== "object") return undefined;
        v = (v as Record<PropertyKey, unknown>)[p as string];
    }
    return v;
}

function show(value: unknown): string {
    if (value === undefined) return "nothing";
    const s = JSON.stringify(value);
    return s.length > 80 ? s.slice(0, 77) + "..." : s;
}

/** One line per problem: the key, the value found and what is expected. */
function problem(input: unknown, path: Path, message: string): string {
    return `\`${keyOf(path)}\` is ${show(valueAt(input, path))}: ${message}`;
}

function parseCidr(s: string): [ipaddr.IPv4 | ipaddr.IPv6, number] | undefined {
    if (!isIp(s.split("/")[0] ?? "")) return undefined;
    try {
        return ipaddr.parseCIDR(s);
    } catch {
        return undefined;
    }
}

function duplicates<T>(items: readonly T[], key: (t: T) => string): Map<string, number[]> {
    const seen = new Map<string, number[]>();
    items.forEach((item, i) => seen.set(key(item), [...(seen.get(key(item)) ?? []), i]));
    return new Map([...seen].filter(([, idx]) => idx.length > 1));
}

/** `docker.clusterStoreOpts` discovery timers that Docker or its Consul store would refuse. */
function discoveryTimerProblems(c: Parsed, input: unknown): string[] {
    const opts = c.docker.clusterStoreOpts;
    const path = (k: string): Path => ["docker", "clusterStoreOpts", k];
    const seconds: Record<string, number | undefined> = {};
    const out: string[] = [];
    for (const k of ["discovery.heartbeat", "discovery.ttl"]) {
        const v = opts[k];
        if (v === undefined) continue;
        if (!/^[1-9][0-9]{0,5}$/.test(v)) out.push(problem(input, path(k), "expected a whole number of seconds, such as \"3\" (Docker reads it as seconds)"));
        else seconds[k] = Number(v);
    }
    const hb = seconds["discovery.heartbeat"];
    const ttl = seconds["discovery.ttl"];
    if (hb !== undefined && ttl !== undefined && hb >= ttl)
        out.push(problem(input, path("discovery.ttl"), `must be longer than \`discovery.heartbeat\` (${hb}): Docker refuses to start otherwise`));
    if (ttl !== undefined && ttl < CONSUL_MIN_DISCOVERY_TTL && c.mode !== "swarm" && c.kv?.backend === "consul")
        out.push(
            problem(
                input,
                path("discovery.ttl"),
                `with \`kv.backend: consul\` it must be at least ${CONSUL_MIN_DISCOVERY_TTL}: Docker's Consul store asks Consul for a session of half the TTL, and Consul refuses sessions under 10 s, so no daemon would register and none would join the overlay`,
            ),
        );
    return out;
}

/** The servers of the store: `kv.host` for one, or `kv.servers` for a cluster of 3 or 5. */
function kvServerProblems(kv: NonNullable<Parsed["kv"]>, hostNames: ReadonlySet<string>, input: unknown): string[] {
    const known = `expected one of the names in \`hosts\` (${[...hostNames].join(", ")})`;
    if (kv.host !== undefined && kv.servers !== undefined)
        return [problem(input, ["kv", "servers"], "`kv.host` is set too: give `kv.host` for one server, or `kv.servers` (3 or 5 hosts) for a cluster, not both")];
    if (kv.host === undefined && kv.servers === undefined)
        return [problem(input, ["kv"], "needs the host that runs the store: `kv.host` (one server) or `kv.servers` (3 or 5 hosts, a cluster)")];
    if (kv.host !== undefined) return hostNames.has(kv.host) ? [] : [problem(input, ["kv", "host"], known)];
    const servers = kv.servers!;
    const out: string[] = [];
    servers.forEach((s, i) => {
        if (!hostNames.has(s)) out.push(problem(input, ["kv", "servers", i], known));
    });
    for (const [name, idx] of duplicates(servers, (s) => s))
        out.push(problem(input, ["kv", "servers", idx[1]!], `"${name}" is listed ${idx.length} times; each server is a different host`));
    if (servers.length === 1) out.push(problem(input, ["kv", "servers"], `one server is not a cluster: write \`kv.host: ${servers[0]}\` instead`));
    else if (servers.length !== 3 && servers.length !== 5)
        out.push(
            problem(
                input,
                ["kv", "servers"],
                servers.length % 2 === 0
                    ? `${servers.length} servers: a cluster needs a majority of its servers to work, so ${servers.length} survive no more losses than ${servers.length - 1}. Use 3 servers (survives the loss of one) or 5 (survives two)`
                    : `${servers.length} servers: use 3 (survives the loss of one) or 5 (survives two); more servers make every write slower`,
            ),
        );
    return out;
}

/** Checks across fields that a schema of single fields cannot express. */
function crossCheck(c: Parsed, input: unknown): string[] {
    const out: string[] = [];
    const hostNames = new Set(c.hosts.map((h) => h.name));
    const known = `expected one of the names in \`hosts\` (${[...hostNames].join(", ")})`;

    for (const [name, idx] of duplicates(c.hosts, (h) => h.name))
        out.push(problem(input, ["hosts", idx[1]!, "name"], `host name "${name}" is used ${idx.length} times; each host needs its own name`));
    for (const [addr, idx] of duplicates(c.hosts, (h) => h.address.toLowerCase()))
        out.push(problem(input, ["hosts", idx[1]!, "address"], `address ${addr} is also \`hosts[${idx[0]}]\`; two entries for one server would configure it twice`));
    for (const [name, idx] of duplicates(c.services, (s) => s.name))
        out.push(problem(input, ["services", idx[1]!, "name"], `service name "${name}" is used ${idx.length} times; container names must be unique on the overlay`));

    c.services.forEach((s, i) => {
        if (!hostNames.has(s.host)) out.push(problem(input, ["services", i, "host"], known));
        if (s.registerInConsul && c.kv?.backend !== "consul")
            out.push(problem(input, ["services", i, "registerInConsul"], "needs `kv.backend: consul` (the registry is the stack's Consul)"));
    });

    if (c.mode === "kv" && !c.kv) out.push(problem(input, ["kv"], "`mode: kv` needs a KV store: set `kv.host` (and `kv.backend`), or use `mode: swarm`"));
    if (c.kv) out.push(...kvServerProblems(c.kv, hostNames, input));
    if (c.kv?.acl && c.kv.backend !== "consul")
        out.push(problem(input, ["kv", "acl"], "ACLs are Consul's: with `kv.backend: etcd` remove `kv.acl` (Docker 20.10 gives its etcd store no credentials, so etcd could not be closed to anonymous clients)"));
    if (c.kv?.tls && c.kv.backend !== "consul")
        out.push(problem(input, ["kv", "tls"], "`kv.tls` is Consul's HTTPS: with `kv.backend: etcd` remove `kv.tls`"));
    if (c.mode === "swarm") {
        if (!c.hosts.some((h, i) => (h.swarmRole ?? (i === 0 ? "manager" : "worker")) === "manager"))
            out.push(problem(input, ["hosts"], "swarm mode needs at least one host with `swarmRole: manager`"));
        if (c.kv && c.kv.backend !== "consul")
            out.push(problem(input, ["kv", "backend"], "in swarm mode `kv` only runs Consul as the service registry; remove `kv` or use `backend: consul`"));
    }

    out.push(...discoveryTimerProblems(c, input));

    const { subnet, gateway } = c.network;
    const net = subnet === undefined ? undefined : parseCidr(subnet);
    if (subnet !== undefined && !net) out.push(problem(input, ["network", "subnet"], "expected a subnet in CIDR form such as 10.0.1.0/24"));
    if (net) {
        const [base, bits] = net;
        const network = base.kind() === "ipv4" ? ipaddr.IPv4.networkAddressFromCIDR(subnet!) : ipaddr.IPv6.networkAddressFromCIDR(subnet!);
        if (network.toString() !== base.toString())
            out.push(problem(input, ["network", "subnet"], `host bits are set; did you mean ${network.toString()}/${bits}?`));
        if (base.kind() === "ipv4" && bits > 29) out.push(problem(input, ["network", "subnet"], "a subnet smaller than /29 has no room for containers"));
        c.hosts.forEach((h, i) => {
            if (isIp(h.address)) {
                const a = ipaddr.parse(h.address);
                if (a.kind() === base.kind() && a.match(net))
                    out.push(problem(input, ["hosts", i, "address"], `the host's own address lies inside \`network.subnet\` ${subnet}; pick an overlay subnet that no server uses`));
            }
        });
    }
    if (gateway !== undefined) {
        if (!isIp(gateway)) out.push(problem(input, ["network", "gateway"], "expected an IP address such as 10.0.1.1"));
        else if (!net) out.push(problem(input, ["network", "gateway"], "a gateway needs `network.subnet` too"));
        else {
            const g = ipaddr.parse(gateway);
            if (g.kind() !== net[0].kind() || !g.match(net))
                out.push(problem(input, ["network", "gateway"], `the gateway must lie inside \`network.subnet\` ${subnet}`));
        }
    }
    return out;
}

/**
 * Validates the non-secret configuration and fills in defaults; `mode: auto` is refused (it
 * needs the hosts' facts: use parseStackConfig, then resolveMode).
 * @param input the values of the `docker-overlay:*` keys, as read from the stack file
 * @param stackFile the file to name in errors, e.g. `Pulumi.dev.yaml`
 * @throws ConfigError listing every problem found
 */
export function parseConfig(input: unknown, stackFile: string): ClusterConfig {
    const c = parseStackConfig(input, stackFile);
    if (c.mode === "auto")
        throw new ConfigError(stackFile, ["`docker-overlay:mode` is \"auto\": the choice needs the hosts' engine versions, which only preflight reads"]);
    return { ...c, mode: c.mode };
}

/**
 * `mode: auto` made concrete, with the checks that depend on the mode (the ones an explicit
 * mode already passed in parseStackConfig). `why` says what decided it, for the messages.
 * @throws ConfigError when the stack file cannot work in that mode
 */
export function resolveMode(c: StackConfig, mode: Mode, why: string, stackFile: string): ClusterConfig {
    if (c.mode !== "auto" && c.mode !== mode) throw new Error(`docker-overlay: resolveMode: the stack file asks for mode ${c.mode}, not ${mode}`);
    const out: string[] = [];
    const chose = `\`mode: auto\` chose ${mode} (${why})`;
    if (c.mode === "auto" && mode === "kv" && !c.kv) out.push(`\`${CONFIG_NAMESPACE}:kv\` is nothing: ${chose}, which needs a KV store`);
    if (c.mode === "auto" && mode === "swarm") {
        if (!c.hosts.some((h) => h.swarmRole === "manager"))
            out.push(`\`${CONFIG_NAMESPACE}:hosts\`: ${chose}, which needs at least one host with \`swarmRole: manager\``);
        if (c.kv && c.kv.backend !== "consul")
            out.push(`\`${CONFIG_NAMESPACE}:kv.backend\` is "${c.kv.backend}": ${chose}, where \`kv\` only runs Consul as the service registry; remove \`kv\`, use \`backend: consul\`, or set \`mode: kv\` on engines of 22 or older`);
    }
    if (out.length > 0) throw new ConfigError(stackFile, out);
    return { ...c, mode };
}

/**
 * Validates the non-secret configuration and fills in defaults, leaving `mode: auto` open.
 * @throws ConfigError listing every problem found
 */
export function parseStackConfig(input: unknown, stackFile: string): StackConfig {
    const parsed = configSchema.safeParse(input);
    if (!parsed.success) {
        const problems = parsed.error.issues.map((issue) =>
            issue.code === "unrecognized_keys"
                ? issue.keys.map((k) => `\`${keyOf([...issue.path, k])}\` is not a known key; check its spelling against the config reference in README.md`)
                : issue.code === "invalid_key"
                  ? [`\`${keyOf(issue.path.slice(0, -1))}\` has the key ${show(issue.path.at(-1))}: ${issue.issues[0]?.message ?? issue.message}`]
                  : [problem(input, issue.path, issue.message)],
        ).flat();
        throw new ConfigError(stackFile, problems);
    }
    const c = parsed.data;
    const problems = crossCheck(c, input);
    if (problems.length > 0) throw new ConfigError(stackFile, problems);

    const servers = c.kv ? (c.kv.servers ?? [c.kv.host!]) : [];
    const kv = c.kv && {
        backend: c.kv.backend,
        host: servers[0]!,
        servers,
        image: c.kv.image ?? KV_DEFAULTS[c.kv.backend].image,
        port: c.kv.port ?? KV_DEFAULTS[c.kv.backend].port,
        pull: c.kv.pull,
        acl: c.kv.acl,
        ...(c.kv.tls ? { tls: c.kv.tls } : {}),
    };
    return {
        mode: c.mode,
        hosts: c.hosts.map((h, i) => ({ ...h, swarmRole: h.swarmRole ?? (i === 0 ? "manager" : "worker") })),
        ...(kv ? { kv } : {}),
        network: c.network,
        services: c.services,
        docker: c.docker,
        connectivity: c.connectivity,
        preflight: c.preflight,
        ssh: c.ssh,
        firewall: c.firewall,
    };
}

/** `address:port`, the address bracketed when it is IPv6. */
function endpoint(address: string, port: number): string {
    return `${address.includes(":") ? `[${address}]` : address}:${port}`;
}

/**
 * The URL a host's daemon gets as `cluster-store`. One server: that server. A Consul cluster: the
 * Consul agent on the host itself (Docker's Consul store takes one address, and every host runs an
 * agent of the cluster). An etcd cluster: every member, which Docker's etcd store takes in one URL
 * (checked on the lab: it keeps working with a member down).
 * @param self this host's address on the overlay's underlay
 * @param servers the servers' addresses, in `kv.servers` order
 */
export function clusterStoreUrl(kv: { backend: KvBackend; port: number; servers: readonly string[] }, self: string, servers: readonly string[]): string {
    const scheme = KV_DEFAULTS[kv.backend].scheme;
    if (kv.servers.length === 1) return `${scheme}://${endpoint(servers[0]!, kv.port)}`;
    if (kv.backend === "consul") return `${scheme}://${endpoint(self, kv.port)}`;
    return `${scheme}://${servers.map((s) => endpoint(s, kv.port)).join(",")}`;
}

/** What `kv.acl` needs of the secret `consulAclToken`. */
export const CONSUL_ACL_TOKEN_HINT = "pulumi config set --secret consulAclToken $(cat /proc/sys/kernel/random/uuid)";

/**
 * `kv.acl: true` needs the secret `consulAclToken`, and a UUID: Consul takes it as its initial
 * management token (and warns about any other form), and the daemons read it from an
 * environment file, where a UUID needs no quoting.
 * @param token the secret's plain value, undefined when it is not set
 */
export function consulAclTokenProblems(c: Pick<StackConfig, "kv">, token: string | undefined): string[] {
    if (!c.kv?.acl) return [];
    if (token === undefined || token === "")
        return [`\`${CONFIG_NAMESPACE}:kv.acl\` is true: Consul's ACLs need the management token as the secret \`${CONFIG_NAMESPACE}:consulAclToken\`: ${CONSUL_ACL_TOKEN_HINT}`];
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(token))
        return [`\`${CONFIG_NAMESPACE}:consulAclToken\` is not a UUID (such as 2f6c1f0e-...): with \`kv.acl\` it becomes Consul's management token, which must be a UUID. Set a new one: ${CONSUL_ACL_TOKEN_HINT}`];
    return [];
}
