// `firewall: true` on the lab: a stack of three hosts (lab1-lab3, Consul on lab1) on a lab of
// four; lab4 is a host on the same network that is not in the cluster. After up the cluster
// works (its own connectivity check: gossip and VXLAN through the rules), a cluster host and
// this machine (where pulumi runs) reach Consul, lab4 is refused on the store's port, on gossip and
// on Consul's serf port; destroy removes exactly the chain and its jump. Traffic goes only to the
// lab's own hosts.
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Lab, labExec } from "../../scripts/labStack";
import { changes, freshLab, holdLabSession, labStack, phase, printTimings, ssh, sshResult } from "./harness";

/** From host FROM, whether a TCP connection to ADDRESS:PORT opens (bash's /dev/tcp, 3 s at most). */
function tcpOpens(lab: Lab, from: Lab["hosts"][number], address: string, port: number): { open: boolean; why: string } {
    const r = sshResult(lab, from, `timeout 3 bash -c 'exec 3<>/dev/tcp/${address}/${port}' 2>&1; echo "exit $?"`);
    return { open: r.stdout.trim().endsWith("exit 0"), why: r.stdout.trim() };
}

/** Host HOST's rules in docker-overlay's chain ("" when there is no such chain) and INPUT's jumps to it. */
function ours(host: string): { chain: string; jumps: string[] } {
    const chain = labExec(host, "sh", "-c", "iptables -S DOCKER-OVERLAY 2>/dev/null; true").trim();
    const jumps = labExec(host, "iptables", "-S", "INPUT").split("\n").filter((l) => l.includes("DOCKER-OVERLAY"));
    return { chain, jumps };
}

describe("firewall: true on the lab (3 hosts in the cluster, lab4 outside it)", () => {
    let lab: Lab;
    let stack: Stack;
    let destroyed = false;
    let release: () => void = () => {};
    const at = (name: string) => lab.hosts.find((h) => h.name === name)!;

    beforeAll(async () => {
        release = await holdLabSession();
        lab = await phase("firewall: lab set-up", () => freshLab(4));
        stack = await labStack(lab, "e2e-firewall", {
            hosts: lab.hosts.slice(0, 3).map((h) => ({ name: h.name, address: h.address, hostKey: h.hostKey })),
            firewall: true,
        });
    }, 900_000);

    afterAll(async () => {
        if (stack && !destroyed) await stack.destroy({ onOutput: (s) => process.stdout.write(s) }).catch((e) => console.error(`cleanup destroy failed: ${e}`));
        printTimings("firewall");
        release();
    }, 900_000);

    it("with nothing up yet, lab4 reaches lab2's Docker gossip port once Docker listens there (the test can tell open from refused)", async () => {
        // A listener on lab2's 7946 before the stack exists: lab4 reaches it, so a refusal later is the rules'.
        ssh(lab, at("lab2"), "nohup timeout 5 busybox nc -l -p 7946 >/dev/null 2>&1 </dev/null & sleep 0.5");
        expect(tcpOpens(lab, at("lab4"), at("lab2").address, 7946)).toMatchObject({ open: true });
    });

    it("up converges, and its connectivity check passed on every host: gossip and VXLAN go through the rules", async () => {
        const up = await phase("firewall: up", () => stack.up({ onOutput: (s) => process.stdout.write(s) }));
        expect(up.summary.result).toBe("succeeded");
        const report = up.outputs.connectivityReport!.value as { from: string; results: { byAddress: boolean; byName: boolean }[] }[];
        expect(report.map((r) => r.from).sort()).toEqual(["lab1", "lab2", "lab3"]);
        for (const r of report) for (const x of r.results) expect(x).toMatchObject({ byAddress: true, byName: true });
    });

    it("the cluster's hosts and this machine reach Consul; lab4 is refused on Consul's HTTP and serf ports and on Docker's gossip port", async () => {
        const [lab1, lab2, lab3, lab4] = ["lab1", "lab2", "lab3", "lab4"].map(at) as [Lab["hosts"][number], Lab["hosts"][number], Lab["hosts"][number], Lab["hosts"][number]];
        expect(tcpOpens(lab, lab2, lab1.address, 8500)).toMatchObject({ open: true });
        expect(tcpOpens(lab, lab3, lab2.address, 7946)).toMatchObject({ open: true });
        const res = await fetch(`http://${lab1.address}:8500/v1/status/leader`, { signal: AbortSignal.timeout(10_000) });
        expect(res.status).toBe(200);
        for (const [to, port] of [[lab1, 8500], [lab1, 8301], [lab2, 7946], [lab3, 7946]] as const) {
            const r = tcpOpens(lab, lab4, to.address, port);
            expect(r.open, `lab4 -> ${to.name}:${port}: ${r.why}`).toBe(false);
            expect(r.why, `lab4 -> ${to.name}:${port}`).toMatch(/refused/i);
        }
        for (const h of [lab1, lab2, lab3]) {
            const o = ours(h.name);
            expect(o.jumps, h.name).toHaveLength(1);
            for (const peer of [lab1, lab2, lab3]) expect(o.chain, h.name).toContain(`-A DOCKER-OVERLAY -s ${peer.address}/32 -j RETURN`);
            expect(o.chain, h.name).not.toContain(lab4.address);
        }
        expect(ours("lab4")).toEqual({ chain: "", jumps: [] });
    });

    it("a second up and a preview report no changes", async () => {
        const up = await phase("firewall: no-op up", () => stack.up({ onOutput: (s) => process.stdout.write(s) }));
        expect(changes(up.summary.resourceChanges)).toEqual({});
        expect(changes((await stack.preview({ onOutput: (s) => process.stdout.write(s) })).changeSummary)).toEqual({});
    });

    it("destroy removes the chain and its jump on every host, and nothing else of INPUT", async () => {
        const input = (h: string) => labExec(h, "iptables", "-S", "INPUT").split("\n").filter((l) => !l.includes("DOCKER-OVERLAY"));
        const before = Object.fromEntries(["lab1", "lab2", "lab3"].map((h) => [h, input(h)]));
        await phase("firewall: destroy", () => stack.destroy({ onOutput: (s) => process.stdout.write(s) }));
        destroyed = true;
        for (const h of ["lab1", "lab2", "lab3"]) {
            expect(ours(h), h).toEqual({ chain: "", jumps: [] });
            expect(input(h), h).toEqual(before[h]);
        }
        // lab4 reaches lab2's 7946 again (a listener of the test's own).
        ssh(lab, at("lab2"), "nohup timeout 5 busybox nc -l -p 7946 >/dev/null 2>&1 </dev/null & sleep 0.5");
        expect(tcpOpens(lab, at("lab4"), at("lab2").address, 7946)).toMatchObject({ open: true });
    });
});
