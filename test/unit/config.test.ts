// The stack-file schema: every refusal names the key, the value and what is expected.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { clusterStoreUrl, ConfigError, consulAclTokenProblems, KV_DEFAULTS, parseConfig } from "../../components/config";

const base = () => ({
    mode: "kv",
    hosts: [
        { name: "node1", address: "192.168.87.133" },
        { name: "node2", address: "192.168.87.139" },
    ],
    kv: { host: "node1" },
    network: { name: "my_overlay", subnet: "10.0.1.0/24", gateway: "10.0.1.1" },
    services: [{ name: "mycentos1", host: "node1", image: "centos:7" }],
});

/** The problems parseConfig reports for a config, one string each. */
function problems(input: unknown): string[] {
    try {
        parseConfig(input, "Pulumi.dev.yaml");
    } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        expect((e as ConfigError).message).toContain("Pulumi.dev.yaml");
        return [...(e as ConfigError).problems];
    }
    return [];
}

function withChange(change: (c: ReturnType<typeof base>) => void) {
    const c = base();
    change(c);
    return c;
}

describe("parseConfig accepts and fills defaults", () => {
    it("takes the seed's setup and fills every default", () => {
        const c = parseConfig(base(), "Pulumi.dev.yaml");
        expect(c.kv).toEqual({ backend: "consul", host: "node1", servers: ["node1"], image: KV_DEFAULTS.consul.image, port: 8500, pull: true, acl: false });
        expect(c.hosts.map((h) => [h.sshPort, h.sshUser, h.swarmRole])).toEqual([
            [22, "root", "manager"],
            [22, "root", "worker"],
        ]);
        expect(c.docker).toEqual({
            restartCommand: ["systemctl", "restart", "docker"],
            advertisePort: 2376,
            waitSeconds: 60,
            clusterStoreOpts: { "discovery.heartbeat": "3", "discovery.ttl": "20" },
        });
        expect(c.connectivity).toEqual({ enabled: true, image: "busybox:1.36", pull: true });
        expect(c.services[0]).toEqual({ name: "mycentos1", host: "node1", image: "centos:7", env: {}, aliases: [], ports: [], registerInConsul: false, pull: true });
    });

    it("uses each backend's own port and image", () => {
        for (const backend of ["consul", "etcd"] as const) {
            const c = parseConfig(withChange((x) => ((x.kv as Record<string, unknown>).backend = backend)), "Pulumi.dev.yaml");
            expect(c.kv?.port).toBe(KV_DEFAULTS[backend].port);
            expect(c.kv?.image).toBe(KV_DEFAULTS[backend].image);
        }
    });

    it("drops nothing in swarm mode and needs no kv there", () => {
        const c = parseConfig({ mode: "swarm", hosts: base().hosts }, "Pulumi.prod.yaml");
        expect(c.mode).toBe("swarm");
        expect(c.kv).toBeUndefined();
        expect(c.network.name).toBe("my_overlay");
    });

    it("builds the cluster-store URL Docker expects, bracketing IPv6", () => {
        const one = { backend: "etcd", port: 2379, servers: ["x"] } as const;
        // one server: that server, whatever host asks
        expect(clusterStoreUrl(one, "10.0.0.2", ["10.0.0.1"])).toBe("etcd://10.0.0.1:2379");
        expect(clusterStoreUrl(one, "fd00::2", ["fd00::1"])).toBe("etcd://[fd00::1]:2379");
        expect(clusterStoreUrl({ ...one, backend: "consul", port: 8500 }, "10.0.0.2", ["node1.lan"])).toBe("consul://node1.lan:8500");
        // a Consul cluster: the agent on the host itself (Docker's Consul store takes one address)
        const three = ["10.0.0.1", "10.0.0.2", "10.0.0.3"];
        expect(clusterStoreUrl({ backend: "consul", port: 8500, servers: ["a", "b", "c"] }, "10.0.0.9", three)).toBe("consul://10.0.0.9:8500");
        // an etcd cluster: every member in one URL
        expect(clusterStoreUrl({ backend: "etcd", port: 2379, servers: ["a", "b", "c"] }, "10.0.0.9", three)).toBe("etcd://10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379");
    });

    it("reads kv.servers as a cluster, its first server as the store's host", () => {
        const hosts = ["n1", "n2", "n3", "n4"].map((name, i) => ({ name, address: `10.0.0.${i + 1}` }));
        const c = parseConfig({ mode: "kv", hosts, kv: { servers: ["n2", "n3", "n4"] } }, "Pulumi.dev.yaml");
        expect(c.kv).toMatchObject({ backend: "consul", host: "n2", servers: ["n2", "n3", "n4"] });
    });
});

describe("parseConfig refuses, naming the key, the value and the fix", () => {
    const cases: [string, (c: ReturnType<typeof base>) => void, string][] = [
        ["a mode that does not exist", (c) => (c.mode = "overlay"), '`docker-overlay:mode` is "overlay": expected `kv`'],
        ["duplicate host names", (c) => (c.hosts[1]!.name = "node1"), '`docker-overlay:hosts[1].name` is "node1": host name "node1" is used 2 times'],
        ["duplicate addresses", (c) => (c.hosts[1]!.address = "192.168.87.133"), "`docker-overlay:hosts[1].address` is \"192.168.87.133\": address 192.168.87.133 is also `hosts[0]`"],
        ["an address that does not parse", (c) => (c.hosts[0]!.address = "192.168.87"), '`docker-overlay:hosts[0].address` is "192.168.87": expected an IPv4/IPv6 address or a DNS name'],
        ["an address with a space", (c) => (c.hosts[0]!.address = "node 1"), '`docker-overlay:hosts[0].address` is "node 1"'],
        ["a service on a host not listed", (c) => (c.services[0]!.host = "node9"), '`docker-overlay:services[0].host` is "node9": expected one of the names in `hosts` (node1, node2)'],
        ["the KV store on a host not listed", (c) => (c.kv.host = "node9"), '`docker-overlay:kv.host` is "node9": expected one of the names in `hosts`'],
        ["kv mode without a KV store", (c) => delete (c as Partial<typeof c>).kv, "`docker-overlay:kv` is nothing: `mode: kv` needs a KV store"],
        ["a subnet that does not parse", (c) => (c.network.subnet = "10.0.1.0/33"), '`docker-overlay:network.subnet` is "10.0.1.0/33": expected a subnet in CIDR form'],
        ["a subnet with host bits set", (c) => (c.network.subnet = "10.0.1.7/24"), "host bits are set; did you mean 10.0.1.0/24?"],
        ["a gateway outside its subnet", (c) => (c.network.gateway = "10.0.2.1"), '`docker-overlay:network.gateway` is "10.0.2.1": the gateway must lie inside `network.subnet` 10.0.1.0/24'],
        ["a gateway that does not parse", (c) => (c.network.gateway = "gw"), '`docker-overlay:network.gateway` is "gw": expected an IP address'],
        ["an overlay subnet that holds a host", (c) => (c.network.subnet = "192.168.87.0/24", c.network.gateway = "192.168.87.1"), "the host's own address lies inside `network.subnet`"],
        ["an unknown key", (c) => ((c as Record<string, unknown>).hostz = []), "`docker-overlay:hostz` is not a known key"],
        ["an unknown nested key", (c) => ((c.hosts[0] as Record<string, unknown>).adress = "x"), "`docker-overlay:hosts[0].adress` is not a known key"],
        ["an SSH port out of range", (c) => ((c.hosts[0] as Record<string, unknown>).sshPort = 70000), "`docker-overlay:hosts[0].sshPort` is 70000: expected a port from 1 to 65535"],
        ["a host key that is not a key line", (c) => ((c.hosts[0] as Record<string, unknown>).hostKey = "AAAA"), "`docker-overlay:hosts[0].hostKey` is \"AAAA\": expected one public key line"],
        [
            "an RSA host key, which pulumi-command could only offer as SHA-1 ssh-rsa",
            (c) => ((c.hosts[0] as Record<string, unknown>).hostKey = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7"),
            "`docker-overlay:hosts[0].hostKey` is \"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7\": an RSA host key cannot be pinned: the remote commands (pulumi-command) would offer only the SHA-1 `ssh-rsa` signature for it, which OpenSSH 8.8 and later refuse. Pin the host's ed25519 or ECDSA key instead: the line `ssh-keyscan -t ed25519 HOST` prints",
        ],
        ["an image with spaces", (c) => (c.services[0]!.image = "centos 7"), "`docker-overlay:services[0].image` is \"centos 7\": expected a Docker image reference"],
        ["a one-letter container name, which Docker refuses", (c) => (c.services[0]!.name = "a"), '`docker-overlay:services[0].name` is "a": expected 2 to 63 letters'],
        ["duplicate service names", (c) => c.services.push({ name: "mycentos1", host: "node2", image: "centos:7" }), "service name \"mycentos1\" is used 2 times"],
        ["Consul registration without Consul", (c) => ((c.kv as Record<string, unknown>).backend = "etcd", ((c.services[0] as Record<string, unknown>).registerInConsul = true)), "`docker-overlay:services[0].registerInConsul` is true: needs `kv.backend: consul`"],
        [
            "Consul ACLs on etcd",
            (c) => ((c.kv as Record<string, unknown>).backend = "etcd", ((c.kv as Record<string, unknown>).acl = true)),
            "`docker-overlay:kv.acl` is true: ACLs are Consul's: with `kv.backend: etcd` remove `kv.acl`",
        ],
        [
            "ZooKeeper, whose Docker store crashes dockerd when a container joins the overlay",
            (c) => ((c.kv as Record<string, unknown>).backend = "zookeeper"),
            "`docker-overlay:kv.backend` is \"zookeeper\": Docker's ZooKeeper cluster store crashes dockerd (a nil pointer in libnetwork's endpointCnt.Key) as soon as a container joins an overlay network, which would leave the hosts without Docker: seen with Engine 20.10.24, moby's build and Debian's",
        ],
        ["an unknown KV backend", (c) => ((c.kv as Record<string, unknown>).backend = "redis"), "`docker-overlay:kv.backend` is \"redis\": expected consul or etcd"],
        ["kv with neither host nor servers", (c) => (delete (c.kv as Record<string, unknown>).host, ((c.kv as Record<string, unknown>).backend = "consul")), "`docker-overlay:kv` is {\"backend\":\"consul\"}: needs the host that runs the store: `kv.host` (one server) or `kv.servers` (3 or 5 hosts, a cluster)"],
        ["kv with both host and servers", (c) => ((c.kv as Record<string, unknown>).servers = ["node1", "node2", "node3"]), "`docker-overlay:kv.servers` is [\"node1\",\"node2\",\"node3\"]: `kv.host` is set too"],
        [
            "an even number of servers",
            (c) => (delete (c.kv as Record<string, unknown>).host, ((c.kv as Record<string, unknown>).servers = ["node1", "node2"])),
            "`docker-overlay:kv.servers` is [\"node1\",\"node2\"]: 2 servers: a cluster needs a majority of its servers to work, so 2 survive no more losses than 1. Use 3 servers (survives the loss of one) or 5 (survives two)",
        ],
        [
            "a server that is not one of the hosts",
            (c) => (delete (c.kv as Record<string, unknown>).host, ((c.kv as Record<string, unknown>).servers = ["node1", "node2", "node9"])),
            "`docker-overlay:kv.servers[2]` is \"node9\": expected one of the names in `hosts` (node1, node2)",
        ],
        ["one server as a list", (c) => (delete (c.kv as Record<string, unknown>).host, ((c.kv as Record<string, unknown>).servers = ["node1"])), "one server is not a cluster: write `kv.host: node1` instead"],
        ["an MTU too small", (c) => ((c.network as Record<string, unknown>).mtu = 100), "`docker-overlay:network.mtu` is 100: expected an MTU from 576 to 9000"],
        [
            "a discovery TTL that Docker's Consul store cannot use (its session would be under Consul's 10 s)",
            (c) => ((c as Record<string, unknown>).docker = { clusterStoreOpts: { "discovery.heartbeat": "3", "discovery.ttl": "10" } }),
            "`docker-overlay:docker.clusterStoreOpts.discovery.ttl` is \"10\": with `kv.backend: consul` it must be at least 20: Docker's Consul store asks Consul for a session of half the TTL, and Consul refuses sessions under 10 s",
        ],
        [
            "a discovery heartbeat not shorter than the TTL",
            (c) => ((c as Record<string, unknown>).docker = { clusterStoreOpts: { "discovery.heartbeat": "30", "discovery.ttl": "30" } }),
            "`docker-overlay:docker.clusterStoreOpts.discovery.ttl` is \"30\": must be longer than `discovery.heartbeat` (30): Docker refuses to start otherwise",
        ],
        [
            "a discovery timer that is not whole seconds",
            (c) => ((c as Record<string, unknown>).docker = { clusterStoreOpts: { "discovery.heartbeat": "3s" } }),
            "`docker-overlay:docker.clusterStoreOpts.discovery.heartbeat` is \"3s\": expected a whole number of seconds",
        ],
        ["a restart command given as one string", (c) => ((c as Record<string, unknown>).docker = { restartCommand: "systemctl restart docker" }), "`docker-overlay:docker.restartCommand` is \"systemctl restart docker\""],
        ["no hosts", (c) => (c.hosts = []), "`docker-overlay:hosts` is []: expected at least one host"],
        ["a host name with capitals", (c) => (c.hosts[0]!.name = "Node1"), '`docker-overlay:hosts[0].name` is "Node1": expected lower-case letters'],
        ["an env var name with a space", (c) => ((c.services[0] as Record<string, unknown>).env = { "A B": "x" }), "expected an environment variable name"],
    ];
    it.each(cases)("refuses %s", (_label, change, expected) => {
        const found = problems(withChange(change));
        expect(found.length).toBeGreaterThan(0);
        expect(found.join("\n")).toContain(expected);
    });

    it("refuses swarm mode with only workers", () => {
        const found = problems({ mode: "swarm", hosts: [{ name: "a", address: "10.1.0.1", swarmRole: "worker" }] });
        expect(found).toEqual(["`docker-overlay:hosts` is [{\"name\":\"a\",\"address\":\"10.1.0.1\",\"swarmRole\":\"worker\"}]: swarm mode needs at least one host with `swarmRole: manager`"]);
    });

    it("reports every problem at once, one line each", () => {
        const found = problems(withChange((c) => ((c.hosts[1]!.name = "node1"), (c.services[0]!.host = "nowhere"))));
        expect(found).toHaveLength(2);
    });

    it("says nothing was changed on any host", () => {
        expect(() => parseConfig({ mode: "kv", hosts: [] }, "Pulumi.x.yaml")).toThrow(/Pulumi\.x\.yaml has .*nothing was changed on any host/);
    });
});

describe("parseConfig never crashes on hostile input", () => {
    it("either accepts or raises ConfigError, for any JSON value", () => {
        fc.assert(
            fc.property(fc.jsonValue(), (v) => {
                try {
                    parseConfig(v, "Pulumi.fuzz.yaml");
                } catch (e) {
                    return e instanceof ConfigError && e.problems.length > 0;
                }
                return true;
            }),
            { numRuns: 500 },
        );
    });

    it("names the field for any hostile string put into any string field", () => {
        const fields: ((c: ReturnType<typeof base>, v: string) => void)[] = [
            (c, v) => (c.hosts[0]!.name = v),
            (c, v) => (c.hosts[0]!.address = v),
            (c, v) => (c.network.name = v),
            (c, v) => (c.services[0]!.image = v),
            (c, v) => (c.services[0]!.name = v),
        ];
        const hostile = fc.oneof(fc.string(), fc.constantFrom("$(touch /tmp/canary)", "`id`", "a'b", "a\nb", "ünï", "x".repeat(300), "; rm -rf /"));
        fc.assert(
            fc.property(fc.integer({ min: 0, max: fields.length - 1 }), hostile, (i, v) => {
                const c = base();
                fields[i]!(c, v);
                try {
                    const parsed = parseConfig(c, "Pulumi.fuzz.yaml");
                    // Accepted values contain no shell metacharacters at all.
                    return !/[$`'"\n; ]/.test(JSON.stringify([parsed.hosts[0], parsed.network.name, parsed.services[0]?.image, parsed.services[0]?.name]).replace(/"/g, ""));
                } catch (e) {
                    return e instanceof ConfigError && e.problems.every((p) => p.startsWith("`docker-overlay:"));
                }
            }),
            { numRuns: 500 },
        );
    });
});

describe("Pulumi.yaml", () => {
    it("declares every schema key, and gives every optional one a default the schema accepts", async () => {
        const fs = await import("node:fs");
        const { parse } = await import("yaml");
        const { configSchema } = await import("../../components/config");
        const project = parse(fs.readFileSync(`${__dirname}/../../Pulumi.yaml`, "utf8")) as { config: Record<string, { default?: unknown; secret?: boolean }> };
        const declared = Object.keys(project.config).sort();
        expect(declared).toEqual([...Object.keys(configSchema.shape), "sshPrivateKey"].sort());
        // The engine refuses a stack that lacks a declared key without a default: only the
        // truly required keys may have none.
        expect(declared.filter((k) => project.config[k]!.default === undefined).sort()).toEqual(["hosts", "mode", "sshPrivateKey"]);
        // With every default applied, a minimal swarm stack is valid (and `kv: {}` means no KV store).
        const defaults = Object.fromEntries(declared.filter((k) => project.config[k]!.default !== undefined).map((k) => [k, project.config[k]!.default]));
        const c = parseConfig({ ...defaults, mode: "swarm", hosts: [{ name: "a1", address: "10.9.0.1" }] }, "Pulumi.x.yaml");
        expect(c.kv).toBeUndefined();
        expect(c.network.name).toBe("my_overlay");
    });
});

describe("kv.acl and the secret consulAclToken", () => {
    const acl = () => parseConfig(withChange((c) => ((c.kv as Record<string, unknown>).acl = true)), "Pulumi.dev.yaml");
    it("is off unless asked for, and then needs no token", () => {
        expect(parseConfig(base(), "Pulumi.dev.yaml").kv?.acl).toBe(false);
        expect(consulAclTokenProblems(parseConfig(base(), "Pulumi.dev.yaml"), undefined)).toEqual([]);
    });
    it("on: takes a UUID", () => {
        expect(acl().kv?.acl).toBe(true);
        expect(consulAclTokenProblems(acl(), "5f1c3a5e-7a0b-4c5e-9d47-0c8e2b1f6a90")).toEqual([]);
    });
    it("on: refuses a missing token, naming kv.acl and the command that sets one", () => {
        for (const token of [undefined, ""])
            expect(consulAclTokenProblems(acl(), token)).toEqual([
                "`docker-overlay:kv.acl` is true: Consul's ACLs need the management token as the secret `docker-overlay:consulAclToken`: pulumi config set --secret consulAclToken $(cat /proc/sys/kernel/random/uuid)",
            ]);
    });
    it("on: refuses a token that is not a UUID (it would go into an environment file unquoted)", () => {
        for (const token of ["root", "5f1c3a5e-7a0b-4c5e-9d47-0c8e2b1f6a90\nX=1", "5f1c3a5e 7a0b 4c5e 9d47 0c8e2b1f6a90"]) {
            const [p, ...rest] = consulAclTokenProblems(acl(), token);
            expect(rest).toEqual([]);
            expect(p).toMatch(/^`docker-overlay:consulAclToken` is not a UUID .*: with `kv.acl` it becomes Consul's management token/);
            // The message never repeats the secret.
            expect(p).not.toContain(token);
        }
    });
});
