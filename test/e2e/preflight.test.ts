// Preflight on a fresh lab of three hosts: `pulumi preview` of the lab stack (the real engine,
// the program inline through the Automation API) fails before any resource is registered when
// two hosts share a hostname or an engine ID, a host's SSH port is wrong, or the overlay MTU does
// not fit the underlay, naming the hosts and the fix; and no host is changed by any of it. A
// clean lab previews without preflight problems.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Lab, LabHost } from "../../scripts/labStack";
import { LAB_JSON, readLab } from "../../scripts/labStack";
import { daemonJsons, docker, freshLab, holdLabSession, labStack, phase, printTimings, ssh } from "./harness";

/** The provider plugins a full preview needs; without them only preflight itself can be proven. */
const PLUGINS = ["pulumi-resource-command", "pulumi-resource-docker", "pulumi-resource-consul"];
const pluginsBuilt = PLUGINS.every((p) => spawnSync("sh", ["-c", `command -v ${p}`]).status === 0);

let lab: Lab;
let lab1: LabHost;
let lab2: LabHost;
let lab3: LabHost;
/** What must not change: every daemon.json (bytes) and every host's containers. */
let before: { daemonJson: Record<string, string | null>; containers: Record<string, string> };

/**
 * Every host's state. First checks that this is still the lab the test created: there is one lab
 * per machine, and a rebuild by a session that ignores the session lock must not read as our failure.
 */
function hostState(): typeof before {
    const now = readLab(LAB_JSON).hosts.map((h) => h.hostKey);
    if (now.join() !== lab.hosts.map((h) => h.hostKey).join())
        throw new Error("the lab was recreated by another run during this test (its host keys changed); run this file again when no other lab or e2e test is running");
    return {
        daemonJson: daemonJsons(lab),
        containers: Object.fromEntries(
            lab.hosts.map((h) => {
                const r = docker(h, ["ps", "-aq"]);
                if (r.status !== 0) throw new Error(`docker ps on ${h.name}: ${r.stderr}`);
                return [h.name, r.stdout];
            }),
        ),
    };
}

interface PreviewResult {
    ok: boolean;
    /** The engine's output and, on failure, the error's message. */
    text: string;
    /** Resources the program registered, besides the stack itself. */
    registered: string[];
}

/** Runs `preview` of the lab stack with `overrides`; never throws for a failed preview. */
async function preview(title: string, overrides: Record<string, unknown> = {}): Promise<PreviewResult> {
    const stack: Stack = await labStack(lab, `e2e-preflight`, overrides);
    const lines: string[] = [];
    const registered: string[] = [];
    const onEvent = (e: EngineEvent) => {
        const type = e.resourcePreEvent?.metadata.type;
        if (type && type !== "pulumi:pulumi:Stack") registered.push(`${type} ${e.resourcePreEvent!.metadata.urn.split("::").at(-1)}`);
    };
    let result: PreviewResult;
    try {
        await phase(`preflight: preview ${title}`, () => stack.preview({ onOutput: (s) => lines.push(s), onEvent }));
        result = { ok: true, text: lines.join(""), registered };
    } catch (e) {
        result = { ok: false, text: `${lines.join("")}\n${(e as Error).message}`, registered };
    }
    console.log(`[e2e] preview ${title}:\n${lines.join("")}`);
    return result;
}

/** A failed preview that names what it should, registered nothing and changed no host. */
function expectRefused(r: PreviewResult, ...fragments: string[]): void {
    expect(r.ok, r.text).toBe(false);
    expect(r.text).toContain("preflight found");
    expect(r.text).toContain("nothing was changed on any host");
    for (const f of fragments) expect(r.text).toContain(f);
    expect(r.registered).toEqual([]);
    expect(hostState()).toEqual(before);
    // The private key never reaches the output.
    const keyLine = fs.readFileSync(lab.privateKeyPath, "utf8").split("\n")[1]!;
    expect(r.text).not.toContain(keyLine);
}

beforeAll(async () => {
    // freshLab holds the lab's session lock for this file (docs/lab.md: one lab per machine).
    lab = await phase("preflight: lab set-up", () => freshLab(3));
    [lab1, lab2, lab3] = lab.hosts as [LabHost, LabHost, LabHost];
    before = hostState();
}, 1800_000 + 900_000);

afterAll(async () => {
    (await holdLabSession())();
    printTimings("preflight");
});

describe("preflight in `pulumi preview` on the lab", () => {
    it("a clean lab has no preflight problems, and the preview says what preflight saw", async () => {
        const r = await preview("clean");
        expect(r.text).not.toContain("preflight found");
        expect(r.text).toMatch(/docker-overlay: preflight checked 3 host\(s\) in \d+\.\ds, no problems \(lab1: hostname lab1, Docker 20\.10\.[\w.+~-]+, swarm inactive, eth0 10\.210\.0\.11 MTU 1500, vxlan (loaded|builtin); lab2: hostname lab2, /);
        if (pluginsBuilt || r.ok) {
            expect(r.ok, r.text).toBe(true);
            expect(r.registered).toContain("docker-overlay:cluster:OverlayCluster overlay");
        } else {
            // A provider plugin not built yet stops the preview at its first resource, after preflight.
            expect(r.text).toMatch(/pulumi-resource-(command|docker|consul)|no resource plugin|could not find plugin/i);
        }
        expect(hostState()).toEqual(before);
    }, 300_000);

    it("`mode: auto` picks kv on the lab's Docker 20.10 and says why", async () => {
        const r = await preview("mode auto", { mode: "auto" });
        expect(r.text).toMatch(/docker-overlay: `mode: auto` chose kv: every engine is 22 or older \(lab1 20\.10\.[\w.+~-]+, lab2 20\.10\.[\w.+~-]+, lab3 20\.10\.[\w.+~-]+\) and `kv` is set \(consul on lab1\)/);
        expect(r.text).not.toContain("preflight found");
        expect(hostState()).toEqual(before);
    }, 300_000);

    it("two hosts with the same hostname: fails naming lab1 and lab2 and the fix", async () => {
        ssh(lab, lab2, "hostname lab1");
        try {
            const r = await preview("same hostname");
            expectRefused(
                r,
                'hosts lab1 and lab2 have the same hostname "lab1"; hosts on one overlay need distinct hostnames (classicswarm#1573). Fix: give lab2 its own hostname (`hostnamectl set-hostname NAME`), then restart Docker there so the daemon registers the new name',
            );
        } finally {
            ssh(lab, lab2, "hostname lab2");
        }
        expect(ssh(lab, lab2, "uname -n").trim()).toBe("lab2");
    }, 300_000);

    it("two hosts with the same engine ID: fails naming lab1 and lab3 and the fix", async () => {
        const restart = "/usr/local/sbin/dolab-dockerd restart >/dev/null";
        const own = ssh(lab, lab3, "base64 -w0 /etc/docker/key.json");
        const id1 = docker(lab1, ["info", "--format", "{{.ID}}"]).stdout;
        ssh(lab, lab3, `cat > /etc/docker/key.json && ${restart}`, ssh(lab, lab1, "cat /etc/docker/key.json"));
        try {
            expect(docker(lab3, ["info", "--format", "{{.ID}}"]).stdout).toBe(id1);
            const r = await preview("same engine ID");
            expectRefused(
                r,
                `hosts lab1 and lab3 have the same Docker engine ID ${id1}, as cloned machines do (moby#13278). Fix: on lab3, delete /etc/docker/key.json and restart Docker so it makes a new ID`,
            );
        } finally {
            ssh(lab, lab3, `base64 -d > /etc/docker/key.json && ${restart}`, own);
        }
        expect(docker(lab3, ["info", "--format", "{{.ID}}"]).stdout).not.toBe(id1);
    }, 300_000);

    it("a host whose SSH port is wrong: fails naming that host", async () => {
        const hosts = lab.hosts.map((h) => ({ name: h.name, address: h.address, sshPort: h === lab2 ? 2222 : h.sshPort, sshUser: h.sshUser, hostKey: h.hostKey }));
        const r = await preview("wrong ssh port", { hosts });
        expectRefused(
            r,
            "host lab2 (root@10.210.0.12:2222) cannot be reached over SSH: connect ECONNREFUSED 10.210.0.12:2222. Fix: check `hosts[1].address` and `hosts[1].sshPort`, that sshd runs there and that this machine can reach it",
        );
        expect(r.text).not.toMatch(/host lab[13] /);
    }, 300_000);

    const labHosts = (keyOf: (h: LabHost) => string | undefined) =>
        lab.hosts.map((h) => ({ name: h.name, address: h.address, sshPort: h.sshPort, sshUser: h.sshUser, ...(keyOf(h) ? { hostKey: keyOf(h) } : {}) }));

    it("a host whose key is pinned nowhere: fails, showing the key it presented and the line to add", async () => {
        const r = await preview("lab3 unpinned", { hosts: labHosts((h) => (h === lab3 ? undefined : h.hostKey)) });
        // The key lab3 presented is the one its sshd was made with (lab.json), word for word.
        expectRefused(
            r,
            `host lab3 (10.210.0.13:22) is not known: no key is pinned for it, and it presented ${lab3.hostKey} (`,
            `add \`hostKey: ${lab3.hostKey}\` under the host \`lab3\` in \`docker-overlay:hosts\``,
        );
        expect(r.text).not.toMatch(/host lab[12] /);
    }, 300_000);

    it("keys from a hashed known_hosts file (ssh-keyscan -H): previews without problems; a wrong one there is refused", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "docker-overlay-known-"));
        try {
            const file = path.join(dir, "known_hosts");
            const scan = spawnSync("ssh-keyscan", ["-H", "-t", "ed25519", ...lab.hosts.map((h) => h.address)], { encoding: "utf8", timeout: 30_000 });
            expect(scan.stdout.split("\n").filter((l) => l.startsWith("|1|"))).toHaveLength(3);
            fs.writeFileSync(file, scan.stdout);
            const ok = await preview("known_hosts", { hosts: labHosts(() => undefined), ssh: { knownHostsFile: file } });
            expect(ok.text).not.toContain("preflight found");
            expect(ok.text).toMatch(/preflight checked 3 host\(s\)/);
            if (pluginsBuilt) expect(ok.ok, ok.text).toBe(true);

            // lab1's line now holds lab2's key: what answers at lab1 is not what the file knows.
            const wrong = path.join(dir, "wrong");
            fs.writeFileSync(wrong, `${lab1.address} ${lab2.hostKey}\n${lab2.address} ${lab2.hostKey}\n${lab3.address} ${lab3.hostKey}\n`);
            const bad = await preview("known_hosts wrong", { hosts: labHosts(() => undefined), ssh: { knownHostsFile: wrong } });
            expectRefused(bad, "host lab1 (10.210.0.11:22) presented the SSH host key SHA256:", "`hosts[0].hostKey`, or `ssh.knownHostsFile`");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }, 300_000);

    it("`ssh.insecureAcceptAnyHostKey`: previews, and the output says which hosts go unchecked", async () => {
        const r = await preview("insecure", { hosts: labHosts((h) => (h === lab2 ? undefined : h.hostKey)), ssh: { insecureAcceptAnyHostKey: true } });
        expect(r.text).toContain("docker-overlay: INSECURE: `ssh.insecureAcceptAnyHostKey` is set, so the SSH host keys of lab2 are NOT checked");
        expect(r.text).not.toContain("preflight found");
        if (pluginsBuilt) expect(r.ok, r.text).toBe(true);
        expect(hostState()).toEqual(before);
    }, 300_000);

    it("`network.mtu: 1550` on the lab's 1500 underlay: fails with the largest MTU that fits", async () => {
        // From netlink: the lab hosts' /sys shows the machine's own devices, not the host's.
        for (const h of lab.hosts) expect(ssh(lab, h, "ip -o link show eth0")).toMatch(/ mtu 1500 /);
        const r = await preview("mtu 1550", { network: { name: "lab_overlay", subnet: "10.220.0.0/24", gateway: "10.220.0.1", mtu: 1550 } });
        expectRefused(
            r,
            "`network.mtu` 1550 is more than the underlay carries on hosts lab1, lab2 and lab3 (lab1: eth0 MTU 1500; lab2: eth0 MTU 1500; lab3: eth0 MTU 1500): Docker's overlay gives containers 1500 and adds 50 bytes of VXLAN, so its largest packets would be fragmented or lost (libnetwork#1021). Fix: set `network.mtu` to 1500 or less (the underlay's MTU; containers then get 1450)",
        );
    }, 300_000);

    it("left every host as it found it", () => {
        expect(hostState()).toEqual(before);
        expect(lab.hosts.map((h) => ssh(lab, h, "uname -n").trim())).toEqual(["lab1", "lab2", "lab3"]);
        expect(fs.existsSync(path.join(lab.privateKeyPath))).toBe(true);
    });
});
