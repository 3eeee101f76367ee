// Changing a running stack: add a host, add a service, change the network's MTU. Only the
// resources that must change do, and everything still talks afterwards.
import type { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Lab } from "../../scripts/labStack";
import { docker, freshLab, holdLabSession, httpGet, labStack, phase, printTimings, ssh } from "./harness";

const twoHosts = (lab: Lab) => lab.hosts.slice(0, 2).map((h) => ({ name: h.name, address: h.address, hostKey: h.hostKey }));
const busybox = { image: "dolab/busybox:1", pull: false };

/** `op name` for every resource step the engine took, "same" left out (our names are unique). */
function stepsOf(events: EngineEvent[]): string[] {
    return events
        .flatMap((e) => (e.resOutputsEvent ? [e.resOutputsEvent.metadata] : []))
        .filter((m) => m.op !== "same")
        .map((m) => `${m.op} ${m.urn.split("::").pop()}`)
        .sort();
}
const stepsFor = (steps: string[], name: string) => steps.filter((s) => s.split(" ")[1] === name).map((s) => s.split(" ")[0]);

describe("changing a running stack (swarm mode)", () => {
    let lab: Lab;
    let stack: Stack;
    let release: () => void = () => {};

    beforeAll(async () => {
        release = await holdLabSession();
        lab = await phase("change: lab set-up", () => freshLab(3));
        stack = await labStack(lab, "e2e-change", {
            mode: "swarm",
            kv: undefined,
            hosts: twoHosts(lab),
            network: { name: "lab_overlay", subnet: "10.220.0.0/24", mtu: 1450 },
            services: [
                { name: "gateway", host: "lab1", command: ["sleep", "2147483647"], ...busybox },
                { name: "service-a", host: "lab2", aliases: ["a"], command: ["httpd", "-f", "-p", "80", "-h", "/"], ...busybox },
            ],
        });
        await phase("change: first up (2 hosts)", () => stack.up({ onOutput: (s) => process.stdout.write(s) }));
    }, 900_000);

    afterAll(async () => {
        await stack?.destroy({ onOutput: (s) => process.stdout.write(s) }).catch((e) => console.error(`cleanup destroy failed: ${e}`));
        printTimings("change");
        release();
    }, 900_000);

    it("adds lab3 and service b and replaces the network for its new MTU, leaving lab1 and lab2's hosts and swarm membership alone", async () => {
        const next = (await import("../../scripts/labStack")).labConfig(lab, {
            mode: "swarm",
            kv: undefined,
            network: { name: "lab_overlay", subnet: "10.220.0.0/24", mtu: 1400 },
            services: [
                { name: "gateway", host: "lab1", command: ["sleep", "2147483647"], ...busybox },
                { name: "service-a", host: "lab2", aliases: ["a"], command: ["httpd", "-f", "-p", "80", "-h", "/"], ...busybox },
                { name: "service-b", host: "lab3", aliases: ["b"], command: ["httpd", "-f", "-p", "80", "-h", "/"], ...busybox },
            ],
        });
        const fs = await import("node:fs");
        const { parse, stringify } = await import("yaml");
        const file = `${stack.workspace.workDir}/Pulumi.e2e-change.yaml`;
        const doc = parse(fs.readFileSync(file, "utf8"));
        doc.config = { ...next, "docker-overlay:sshPrivateKey": doc.config["docker-overlay:sshPrivateKey"] };
        fs.writeFileSync(file, stringify(doc));

        const events: EngineEvent[] = [];
        const up = await phase("change: up with the changes", () => stack.up({ onOutput: (s) => process.stdout.write(s), onEvent: (e) => events.push(e) }));
        expect(up.summary.result).toBe("succeeded");
        const steps = stepsOf(events);
        // lab1 and lab2: same hosts, same providers, same swarm.
        for (const name of ["overlay-lab1-reachable", "overlay-lab1-docker", "overlay-lab2-reachable", "overlay-lab2-docker", "overlay-swarm-init-lab1", "overlay-swarm-tokens", "overlay-swarm-join-lab2"])
            expect(stepsFor(steps, name), name).toEqual([]);
        // lab3 and b are new.
        for (const name of ["overlay-lab3-reachable", "overlay-lab3-docker", "overlay-swarm-join-lab3", "overlay-svc-service-b-container", "overlay-connectivity-probe-lab3", "overlay-connectivity-from-lab3"])
            expect(stepsFor(steps, name), name).toEqual(["create"]);
        // The network is replaced for its MTU, and so are the containers attached to it.
        expect(stepsFor(steps, "overlay-net-network")).not.toEqual([]);
        expect(stepsFor(steps, "overlay-net-network").every((op) => op.includes("replace"))).toBe(true);
        // Nothing outside these changed at all.
        const allowed = /^(overlay-lab3[-\w]*|overlay-swarm-join-lab3|overlay-svc-[\w-]+|overlay-connectivity[-\w]*|overlay-net[-\w]*)$/;
        expect(steps.filter((s) => !allowed.test(s.split(" ")[1]!))).toEqual([]);
    });

    it("a second stack on the same hosts is refused: in preview by preflight, in up (preflight off) by the host scripts; the first stack is untouched", async () => {
        const lab1 = lab.hosts[0]!;
        const owner = () => ssh(lab, lab1, "cat /var/lib/docker-overlay/owner").trim();
        expect(owner()).toBe("docker-overlay/e2e-change");
        const swarmBefore = lab.hosts.map((h) => docker(h, ["info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}}"]).stdout);
        const config = { mode: "swarm", kv: undefined, hosts: twoHosts(lab), network: { name: "other_overlay", subnet: "10.221.0.0/24" }, services: [], connectivity: { enabled: false } };
        const other = await labStack(lab, "e2e-change-other", config);
        try {
            const lines: string[] = [];
            const preview = await other.preview({ onOutput: (l) => lines.push(l) }).then(
                () => "",
                (e: Error) => `${lines.join("")}\n${e.message}`,
            );
            expect(preview).toContain("host lab1 is configured by the stack docker-overlay/e2e-change, not by this one (docker-overlay/e2e-change-other)");
            expect(preview).toContain("host lab2 is configured by the stack docker-overlay/e2e-change");

            const off = await labStack(lab, "e2e-change-other", { ...config, preflight: { enabled: false } });
            const out: string[] = [];
            const up = await phase("change: up of a second stack with preflight off", () =>
                off.up({ onOutput: (l) => out.push(l) }).then(
                    () => "",
                    (e: Error) => `${out.join("")}\n${e.message}`,
                ),
            );
            expect(up).toContain("docker-overlay: lab1: this host is configured by the stack docker-overlay/e2e-change, not by docker-overlay/e2e-change-other");
            expect(owner()).toBe("docker-overlay/e2e-change");
            expect(lab.hosts.map((h) => docker(h, ["info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}}"]).stdout)).toEqual(swarmBefore);
            expect(docker(lab1, ["network", "ls", "--filter", "name=other_overlay", "-q"]).stdout).toBe("");
        } finally {
            await other.destroy({ onOutput: (s) => process.stdout.write(s) });
        }
        expect(owner()).toBe("docker-overlay/e2e-change");
    });

    it("everything still talks, with the new MTU", () => {
        const gw = lab.hosts[0]!;
        for (const target of ["a", "b"]) {
            expect(docker(gw, ["exec", "gateway", "ping", "-c", "2", "-W", "3", target]).status, `ping ${target}`).toBe(0);
            const http = docker(gw, ["exec", "gateway", ...httpGet(`http://${target}/etc/hostname`)]);
            expect(http.stderr).toContain("200 OK");
        }
        for (const h of lab.hosts) {
            const mtu = docker(h, ["network", "inspect", "lab_overlay", "--format", '{{index .Options "com.docker.network.driver.mtu"}}']);
            expect(mtu.stdout, h.name).toBe("1400");
        }
    });
});
