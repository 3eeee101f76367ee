// One resource per provider plugin of the toolchain, so `pulumi up` has to start each of
// pulumi-resource-command, -docker and -consul. Every target is given by the test through the
// stack config and is local: a unix socket, 127.0.0.1, or this machine's shell.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as consul from "@pulumi/consul";
import * as docker from "@pulumi/docker";

const config = new pulumi.Config();
/** A string the test chooses per run; each resource carries it so the test can find it. */
const marker = config.require("marker");
/** unix:// socket of the test's own dockerd. */
const dockerHost = config.require("dockerHost");
/** host:port of the test's Consul server on 127.0.0.1. */
const consulAddress = config.require("consulAddress");

const echo = new command.local.Command("smoke-echo", {
    // The marker reaches the shell through the environment, never quoted into the command line.
    create: 'printf "%s" "$SMOKE_MARKER"',
    environment: { SMOKE_MARKER: marker },
});

const dockerProvider = new docker.Provider("smoke-docker", { host: dockerHost });
const network = new docker.Network(
    "smoke-network",
    { name: `smoke-${marker}`, driver: "bridge", internal: true },
    { provider: dockerProvider },
);

const consulProvider = new consul.Provider("smoke-consul", {
    address: consulAddress,
    scheme: "http",
    datacenter: "dc1",
});
const keys = new consul.Keys(
    "smoke-keys",
    {
        datacenter: "dc1",
        // delete: the key is removed again on destroy (the provider keeps it otherwise).
        keys: [{ path: `docker-overlay/smoke/${marker}`, value: marker, delete: true }],
    },
    { provider: consulProvider },
);

export const commandStdout = echo.stdout;
export const networkId = network.id;
export const networkName = network.name;
export const consulKeyPath = keys.keys.apply((ks) => ks?.[0]?.path);
