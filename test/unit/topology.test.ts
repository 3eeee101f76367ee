// The topology picture (components/topology.ts) from a parsed lab config: pure, no Pulumi.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { parseStackConfig, type RawConfig } from "../../components/config";
import { pairResult, topologyDot, topologyMermaid } from "../../components/topology";
import { withHosts } from "../../components/connectivityCheck";

const raw: RawConfig = {
    mode: "kv",
    hosts: [
        { name: "lab1", address: "10.210.0.11" },
        { name: "lab2", address: "10.210.0.12" },
    ],
    kv: { backend: "consul", host: "lab1" },
    network: { name: "lab_overlay", subnet: "10.220.0.0/24", mtu: 1450 },
    services: [
        { name: "gateway", host: "lab1", image: "busybox" },
        { name: "service-a", host: "lab2", image: "busybox", aliases: ["a"] },
    ],
};
const config = { ...parseStackConfig(raw, "Pulumi.lab.yaml"), mode: "kv" as const };
const facts = { lab1: { interface: "eth0", engineVersion: "20.10.24" }, lab2: { interface: "eth0", engineVersion: "20.10.24" } };
// As connectivity-check.sh prints them (it knows the probes by container name), with each probe's
// host put in as ConnectivityCheck does.
const probes = new Map([
    ["docker-overlay-lab-probe-lab1", "lab1"],
    ["docker-overlay-lab-probe-lab2", "lab2"],
]);
const ok = [
    withHosts({ from: "lab1", results: [{ to: "docker-overlay-lab-probe-lab2", address: "10.220.0.3", byAddress: true, byName: true }] }, probes),
    withHosts({ from: "lab2", results: [{ to: "docker-overlay-lab-probe-lab1", address: "10.220.0.2", byAddress: true, byName: true }] }, probes),
];

describe("topologyMermaid", () => {
    it("draws the hosts with address, interface and engine, the store, the overlay, each service with its address and aliases, and each pair's result", () => {
        const m = topologyMermaid({ config, hosts: facts, serviceAddresses: { gateway: "10.220.0.4", "service-a": "10.220.0.5" }, connectivity: ok });
        expect(m.split("\n")[0]).toBe("flowchart LR");
        expect(m).toContain('net_lab_overlay{{"overlay lab_overlay<br/>10.220.0.0/24<br/>MTU 1450"}}');
        expect(m).toContain('store_consul[("consul on lab1")]');
        expect(m).toContain('subgraph host_lab2["lab2: 10.210.0.12, advertises eth0, Docker 20.10.24"]');
        expect(m).toContain('svc_service_a["service-a, a<br/>10.220.0.5"]');
        expect(m).toContain("svc_service_a --- net_lab_overlay");
        expect(m).toContain("host_lab1 <-.->|ok| host_lab2");
    });

    it("swarm mode shows the managers; before up, services say their address comes later and no pair is drawn", () => {
        const swarm = { ...parseStackConfig({ ...raw, mode: "swarm", kv: undefined }, "Pulumi.lab.yaml"), mode: "swarm" as const };
        const m = topologyMermaid({ config: swarm, hosts: {}, serviceAddresses: {} });
        expect(m).toContain('store_swarm[("swarm managers: lab1")]');
        expect(m).toContain('svc_gateway["gateway<br/>address after up"]');
        expect(m).not.toContain("<-.->");
    });

    it("keeps labels from closing early: quotes and brackets in names become plain quotes", () => {
        const odd = { ...parseStackConfig({ ...raw, network: { name: "net", subnet: "10.220.0.0/24" } }, "Pulumi.lab.yaml"), mode: "kv" as const };
        const m = topologyMermaid({ config: odd, hosts: { lab1: { interface: 'eth0"]x', engineVersion: "1" } }, serviceAddresses: {} });
        expect(m).toContain("advertises eth0''x");
        expect(m).not.toContain('eth0"');
    });
});

describe("pairResult", () => {
    it("is ok only when both directions pass by address and by name, and says what failed otherwise", () => {
        expect(pairResult(ok, "lab1", "lab2")).toBe("ok");
        const broken = [ok[0]!, withHosts({ from: "lab2", results: [{ to: "docker-overlay-lab-probe-lab1", address: "10.220.0.2", byAddress: true, byName: false }] }, probes)];
        expect(pairResult(broken, "lab1", "lab2")).toBe("lab2 to lab1 fails by name");
        expect(pairResult([ok[0]!], "lab1", "lab2")).toBe("lab2 to lab1 not checked");
        expect(pairResult(undefined, "lab1", "lab2")).toBeUndefined();
    });
});

describe("withHosts", () => {
    it("names each result's host from its probe's container name", () => {
        expect(ok[0]!.results).toEqual([{ to: "docker-overlay-lab-probe-lab2", host: "lab2", address: "10.220.0.3", byAddress: true, byName: true }]);
    });
});

describe("topologyDot", () => {
    it("is a graph Graphviz draws: every host, service, the store and each pair's result in the SVG", () => {
        const dot = topologyDot({ config, hosts: facts, serviceAddresses: { gateway: "10.220.0.4", "service-a": "10.220.0.5" }, connectivity: ok });
        expect(dot).toContain("subgraph cluster_host_lab1 {");
        expect(dot).toContain('host_lab1_at -> host_lab2_at [ltail=cluster_host_lab1, lhead=cluster_host_lab2, label="ok", style=dashed];');
        // Graphviz's dot (Debian's graphviz; scripts/test.sh installs it) must draw it.
        const svg = spawnSync("dot", ["-Tsvg"], { input: dot, encoding: "utf8" });
        expect(svg.error, "Graphviz's dot is missing: apt-get install graphviz").toBeUndefined();
        expect(svg.status, svg.stderr).toBe(0);
        expect(svg.stderr).toBe("");
        const drawn = svg.stdout.replace(/&#45;/g, "-");
        for (const word of ["lab1: 10.210.0.11, advertises eth0, Docker 20.10.24", "service-a, a", "10.220.0.5", "consul on lab1", "overlay lab_overlay", ">ok<"]) expect(drawn).toContain(word);
    });

    it("quotes labels as DOT strings: a quote in a name cannot end one", () => {
        const dot = topologyDot({ config, hosts: { lab1: { interface: 'eth0" shape=x', engineVersion: "1" } }, serviceAddresses: {} });
        expect(dot).toContain('advertises eth0\\" shape=x');
        expect(spawnSync("dot", ["-Tsvg"], { input: dot, encoding: "utf8" }).status).toBe(0);
    });
});
