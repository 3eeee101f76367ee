// A program of your own that uses OverlayCluster as a library: the overlay across two servers
// (swarm mode), with one service of the cluster's (api), and next to it a container this program
// manages itself (client), on the overlay, calling the api by its name.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { type HostSettings, OverlayCluster } from "docker-overlay";

const config = new pulumi.Config();
// OverlayCluster checks the hosts itself (the same checks and messages as the stack's config).
const hosts = config.requireObject<HostSettings[]>("hosts");
// The client on the first host, the api on the last (one host will do too). With no host at all,
// OverlayCluster says what is missing.
const clientHost = hosts[0]?.name ?? "";
const apiHost = hosts.at(-1)?.name ?? "";

const cluster = new OverlayCluster("overlay", {
    mode: "swarm",
    hosts,
    network: { name: "app_net", subnet: "10.20.0.0/24" },
    services: [{ name: "api", host: apiHost, image: "nginx:1.27-alpine", aliases: ["api.internal"] }],
    sshPrivateKey: config.requireSecret("sshPrivateKey"),
});

// The program's own container, through the cluster's docker provider for that host.
const client = new docker.Container(
    "client",
    {
        name: "app-client",
        image: "busybox:1.36",
        command: ["sh", "-c", "while true; do wget -qO- http://api.internal/ >/dev/null && echo reached api; sleep 10; done"],
        networksAdvanced: [{ name: cluster.network.name }],
        restart: "unless-stopped",
    },
    { provider: cluster.hosts[clientHost]?.provider, dependsOn: [cluster] },
);

export const apiAddress = cluster.serviceAddresses.apply((a) => a["api"]);
export const clientId = client.id;
