// The end-to-end flow both modes share: preview, up, traffic across hosts, up again, preview,
// refresh, destroy, with the host-side checks after each step. One describe per mode calls it.
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Lab, pulumiEnv } from "../../scripts/labStack";
import { changes, collector, daemonJsons, docker, engineApi, freshLab, holdLabSession, httpGet, labStack, phase, printTimings, ssh, sshResult } from "./harness";

/** Unrelated daemon.json keys one host starts with; they must survive up and destroy byte for byte. */
export const UNRELATED = '{\n  "log-level": "info",\n  "max-concurrent-downloads": 4\n}\n';

/** What the tests a mode adds (`extra`) can use: the flow's lab, stack and service addresses. */
export interface FlowContext {
    readonly lab: Lab;
    readonly stack: Stack;
    readonly stackName: string;
    readonly addresses: Record<string, string>;
}

export interface FlowOptions {
    title: string;
    stackName: string;
    overrides: Record<string, unknown>;
    /** Secret config keys (without the namespace), stored with `--secret`. */
    secrets?: Record<string, string>;
    scope: string;
    /** kv mode: the cluster store every daemon must report after up (`docker info`), e.g. consul://10.210.0.11:8500. */
    clusterStore?: string;
    /** Runs on the fresh lab before the stack is made (e.g. to load an image made on demand). */
    prepareLab?: (lab: Lab) => void;
    /** Tests of this mode, run after refresh and before destroy. */
    extra?: (ctx: FlowContext) => void;
    afterDestroy?: (lab: Lab) => void;
}

export function overlayFlow(opts: FlowOptions) {
    let lab: Lab;
    let stack: Stack;
    let before: Record<string, string | null>;
    let destroyed = false;
    let addresses: Record<string, string> = {};
    let release: () => void = () => {};
    const ctx: FlowContext = {
        get lab() {
            return lab;
        },
        get stack() {
            return stack;
        },
        stackName: opts.stackName,
        get addresses() {
            return addresses;
        },
    };

    beforeAll(async () => {
        release = await holdLabSession();
        lab = await phase(`${opts.title}: lab set-up`, () => freshLab(3));
        opts.prepareLab?.(lab);
        ssh(lab, lab.hosts[1]!, "mkdir -p /etc/docker && cat > /etc/docker/daemon.json && /usr/local/sbin/dolab-dockerd restart >/dev/null", UNRELATED);
        before = daemonJsons(lab);
        expect(before).toEqual({ lab1: null, lab2: Buffer.from(UNRELATED).toString("base64"), lab3: null });
        stack = await labStack(lab, opts.stackName, opts.overrides);
        for (const [k, v] of Object.entries(opts.secrets ?? {})) await stack.setConfig(`docker-overlay:${k}`, { value: v, secret: true });
    }, 900_000);

    afterAll(async () => {
        if (stack && !destroyed) await stack.destroy({ onOutput: (s) => process.stdout.write(s) }).catch((e) => console.error(`cleanup destroy failed: ${e}`));
        printTimings(opts.title);
        release();
    }, 900_000);

    it("preview lists the creates and touches no host", async () => {
        const out = collector();
        const preview = await phase(`${opts.title}: preview`, () => stack.preview({ onOutput: out.onOutput }));
        expect(Object.keys(changes(preview.changeSummary))).toEqual(["create"]);
        expect(preview.changeSummary.create).toBeGreaterThan(20);
        expect(daemonJsons(lab)).toEqual(before);
        for (const h of lab.hosts) expect(docker(h, ["ps", "-aq"]).stdout).toBe("");
    });

    it("up converges, and its own connectivity check passed on every host", async () => {
        const out = collector();
        const up = await phase(`${opts.title}: up`, () => stack.up({ onOutput: out.onOutput }));
        expect(up.summary.result).toBe("succeeded");
        addresses = up.outputs.serviceAddresses!.value as Record<string, string>;
        expect(Object.keys(addresses).sort()).toEqual(["gateway", "service-a", "service-b"]);
        for (const a of Object.values(addresses)) expect(a).toMatch(/^10\.220\.0\.\d+$/);
        const report = up.outputs.connectivityReport!.value as { from: string; results: { byAddress: boolean; byName: boolean }[] }[];
        expect(report.map((r) => r.from).sort()).toEqual(["lab1", "lab2", "lab3"]);
        for (const r of report) {
            expect(r.results).toHaveLength(2);
            for (const x of r.results) expect(x).toMatchObject({ byAddress: true, byName: true });
        }
        // The topology picture draws what the check found: each pair of hosts ok.
        const topology = up.outputs.topology!.value as string;
        for (const pair of ["host_lab1 <-.->|ok| host_lab2", "host_lab1 <-.->|ok| host_lab3", "host_lab2 <-.->|ok| host_lab3"]) expect(topology).toContain(pair);
        // The private key never reaches the engine's output.
        const key = (await import("node:fs")).readFileSync(lab.privateKeyPath, "utf8").split("\n")[1]!;
        expect(out.lines.join("")).not.toContain(key);
    });

    it("no secret is in the state or the engine's output in plain text: private key, join tokens", async () => {
        const fs = await import("node:fs");
        const keyBody = fs.readFileSync(lab.privateKeyPath, "utf8").split("\n").filter((l) => l && !l.startsWith("-----"));
        const secrets = [keyBody.join(""), ...keyBody.slice(0, 2)];
        if (opts.scope === "swarm") {
            for (const role of ["worker", "manager"]) {
                const token = docker(lab.hosts[0]!, ["swarm", "join-token", "-q", role]).stdout;
                expect(token).toMatch(/^SWMTKN-/);
                secrets.push(token);
            }
        }
        // `pulumi stack export` as a person runs it (the Automation API's exportStack adds --show-secrets).
        const { execFileSync } = await import("node:child_process");
        const state = execFileSync("pulumi", ["stack", "export", "--stack", opts.stackName], {
            cwd: stack.workspace.workDir,
            env: { ...process.env, ...pulumiEnv(stack.workspace.workDir) },
            encoding: "utf8",
            maxBuffer: 64 * 1024 * 1024,
        });
        const out = collector();
        await stack.preview({ onOutput: out.onOutput, diff: true });
        for (const [i, secret] of secrets.entries()) {
            const at = state.indexOf(secret);
            expect(at, `secret #${i} in plain text in the state: ...${state.slice(Math.max(0, at - 300), at)}`).toBe(-1);
            expect(out.lines.join("").includes(secret), "a secret in the engine's output").toBe(false);
        }
        // ... and they are there, encrypted: the state holds secret values as ciphertext.
        expect(state).toContain('"ciphertext"');
    });

    it("the gateway on lab1 reaches service a (lab2) and b (lab3) by address and by name: ping and HTTP 200", () => {
        const gw = lab.hosts[0]!;
        for (const [service, alias] of [["service-a", "a"], ["service-b", "b"]] as const) {
            for (const where of [addresses[service]!, service, alias]) {
                const ping = docker(gw, ["exec", "gateway", "ping", "-c", "2", "-W", "3", where]);
                expect(ping.status, `ping ${where}: ${ping.stdout} ${ping.stderr}`).toBe(0);
                const http = docker(gw, ["exec", "gateway", ...httpGet(`http://${where}/etc/hostname`)]);
                expect(http.status, `GET http://${where}/: ${http.stderr}`).toBe(0);
                expect(http.stderr).toContain("200 OK");
            }
        }
    });

    it("containers get network.mtu minus VXLAN's 50 bytes, and a packet of that size crosses hosts with don't-fragment set", () => {
        // network.mtu is Docker's underlay MTU (1450 in Pulumi.lab.yaml): containers get 1400.
        const gw = lab.hosts[0]!;
        const pid = docker(gw, ["inspect", "gateway", "--format", "{{.State.Pid}}"]).stdout;
        const inGateway = (cmd: string) => sshResult(lab, gw, `nsenter -t ${pid} -n ${cmd}`);
        expect(inGateway("cat /sys/class/net/eth0/mtu").stdout.trim()).toBe("1400");
        // iputils ping (busybox's has no -M): 1372 bytes of data + 28 of headers = 1400.
        const fits = inGateway(`ping -M do -s 1372 -c 2 -W 3 ${addresses["service-b"]}`);
        expect(fits.status, fits.stdout + fits.stderr).toBe(0);
        const tooBig = inGateway(`ping -M do -s 1373 -c 1 -W 3 ${addresses["service-b"]}`);
        expect(tooBig.status).not.toBe(0);
        expect(tooBig.stdout + tooBig.stderr).toMatch(/message too long/i);
    });

    if (opts.clusterStore) {
        it(`every daemon reports the cluster store ${opts.clusterStore} (docker info, through the Engine API)`, async () => {
            for (const h of lab.hosts) {
                const info = (await engineApi(h, "/info")) as { ClusterStore?: string; ClusterAdvertise?: string };
                expect(info.ClusterStore, h.name).toBe(opts.clusterStore);
                expect(info.ClusterAdvertise, h.name).toBe(`${h.address}:2376`);
            }
        });
    }

    it(`every host lists the network with ${opts.scope} scope`, () => {
        for (const h of lab.hosts) {
            const r = docker(h, ["network", "inspect", "lab_overlay", "--format", "{{.Scope}} {{.Driver}}"]);
            expect(r.stdout, `${h.name}: ${r.stderr}`).toBe(`${opts.scope} overlay`);
        }
    });

    it("a container that is not on the overlay cannot reach service a", () => {
        const r = docker(lab.hosts[0]!, ["run", "--rm", lab.images.busybox, ...httpGet(`http://${addresses["service-a"]}/etc/hostname`, 3)]);
        // Not 0 (it got through) and not a crash of the client: the request timed out or was refused.
        expect(r.status, r.stderr).not.toBe(0);
        expect(r.status).not.toBe(139);
        expect(r.stderr).not.toContain("200 OK");
    });

    it("a second up and a preview report no changes", async () => {
        const up = await phase(`${opts.title}: no-op up`, () => stack.up({ onOutput: (s) => process.stdout.write(s) }));
        expect(changes(up.summary.resourceChanges)).toEqual({});
        const preview = await stack.preview({ onOutput: (s) => process.stdout.write(s) });
        expect(changes(preview.changeSummary)).toEqual({});
    });

    it("refresh finds no drift", async () => {
        const r = await phase(`${opts.title}: refresh`, () => stack.refresh({ onOutput: (s) => process.stdout.write(s) }));
        expect(changes(r.summary.resourceChanges)).toEqual({});
    });

    if (opts.scope === "global") {
        it("Docker restarted by hand on lab1 (the KV host, its store container restarting with it): preview says so and plans the rejoin on every host; up --refresh makes the gateway there reach a and b again; then no changes", async () => {
            const gw = lab.hosts[0]!;
            ssh(lab, gw, "/usr/local/sbin/dolab-dockerd restart >/dev/null");
            const out = collector();
            const preview = await stack.preview({ onOutput: out.onOutput });
            const text = out.lines.join("");
            expect(text).toContain("docker-overlay: Docker on lab1 started again since the last up (a reboot, a crash or a restart by hand)");
            // Every host's rejoin runs again; no daemon is configured again, no container replaced.
            for (const h of lab.hosts) expect(text).toMatch(new RegExp(`\\+-\\s+command:remote:Command overlay-${h.name}-rejoin-run replace`));
            expect(text).not.toMatch(/daemon-config-(apply|backup) (update|replace)/);
            expect(text).not.toMatch(/docker:index:Container \S+ replace/);
            expect(preview.changeSummary?.delete ?? 0).toBe(0);
            const up = await phase(`${opts.title}: up --refresh after Docker restarted by hand`, () => stack.up({ refresh: true, onOutput: (s) => process.stdout.write(s) }));
            expect(up.summary.result).toBe("succeeded");
            addresses = up.outputs.serviceAddresses!.value as Record<string, string>;
            for (const alias of ["a", "b"]) {
                const http = docker(gw, ["exec", "gateway", ...httpGet(`http://${alias}/etc/hostname`)]);
                expect(http.stderr, `gateway (lab1) -> ${alias} after lab1's Docker restarted`).toContain("200 OK");
            }
            const again = await stack.preview({ onOutput: (s) => process.stdout.write(s) });
            expect(changes(again.changeSummary)).toEqual({});
        }, 900_000);
    }

    if (opts.scope === "global" && opts.clusterStore?.startsWith("consul:")) {
        it("daemon.json edited by hand on lab3 (our cluster-advertise gone, a key added): refresh --run-program says so; up writes our keys again, keeps the added key, and lab3 talks again; then no changes", async () => {
            const lab3 = lab.hosts[2]!;
            const gw = lab.hosts[0]!;
            ssh(lab, lab3, `sed -i -e '/"cluster-advertise"/d' -e '0,/{/s//{\\n  "debug": true,/' /etc/docker/daemon.json && grep -q '"debug": true' /etc/docker/daemon.json && ! grep -q cluster-advertise /etc/docker/daemon.json`);
            const out = collector();
            const refresh = await phase(`${opts.title}: refresh --run-program after the hand edit`, () => stack.refresh({ runProgram: true, onOutput: out.onOutput }));
            expect(out.lines.join("")).toContain("docker-overlay: drift on lab3: /etc/docker/daemon.json is not the file the last up wrote (edited by hand?)");
            expect(changes(refresh.summary.resourceChanges)).toEqual({});
            const up = await phase(`${opts.title}: up after the hand edit`, () => stack.up({ onOutput: (s) => process.stdout.write(s) }));
            expect(up.summary.result).toBe("succeeded");
            addresses = up.outputs.serviceAddresses!.value as Record<string, string>;
            const now = JSON.parse(ssh(lab, lab3, "cat /etc/docker/daemon.json")) as Record<string, unknown>;
            expect(now).toMatchObject({ debug: true, "cluster-store": opts.clusterStore, "cluster-advertise": "eth0:2376" });
            expect(((await engineApi(lab3, "/info")) as { ClusterStore?: string }).ClusterStore).toBe(opts.clusterStore);
            const http = docker(gw, ["exec", "gateway", ...httpGet("http://b/etc/hostname")]);
            expect(http.stderr, "gateway (lab1) -> b (lab3) after lab3's daemon was configured again").toContain("200 OK");
            const again = await stack.preview({ onOutput: (s) => process.stdout.write(s) });
            expect(changes(again.changeSummary)).toEqual({});
            // The person takes their key out again: drift again, and up leaves only our keys (so
            // that destroy, below, leaves no daemon.json on lab3, where there was none).
            ssh(lab, lab3, `sed -i '/"debug": true,/d' /etc/docker/daemon.json && ! grep -q debug /etc/docker/daemon.json`);
            const back = await phase(`${opts.title}: up after the key was taken out by hand`, () => stack.up({ onOutput: (s) => process.stdout.write(s) }));
            addresses = back.outputs.serviceAddresses!.value as Record<string, string>;
            expect(Object.keys(JSON.parse(ssh(lab, lab3, "cat /etc/docker/daemon.json")) as object).sort()).toEqual(["cluster-advertise", "cluster-store", "cluster-store-opts"]);
            expect(docker(gw, ["exec", "gateway", ...httpGet("http://b/etc/hostname")]).stderr).toContain("200 OK");
        }, 900_000);
    }

    if (opts.scope === "swarm") {
        it("lab3 leaves the swarm by hand: refresh --run-program says so; up --refresh joins it again and the gateway reaches b there; then no changes", async () => {
            const lab3 = lab.hosts[2]!;
            const gw = lab.hosts[0]!;
            expect(docker(lab3, ["swarm", "leave", "--force"]).status).toBe(0);
            const out = collector();
            await phase(`${opts.title}: refresh --run-program after lab3 left`, () => stack.refresh({ runProgram: true, onOutput: out.onOutput }));
            expect(out.lines.join("")).toContain("docker-overlay: drift on lab3: it left the swarm since the last up (docker swarm leave by hand?); up joins it again");
            const up = await phase(`${opts.title}: up --refresh after lab3 left`, () => stack.up({ refresh: true, onOutput: (s) => process.stdout.write(s) }));
            expect(up.summary.result).toBe("succeeded");
            addresses = up.outputs.serviceAddresses!.value as Record<string, string>;
            expect(docker(lab3, ["info", "--format", "{{.Swarm.LocalNodeState}}"]).stdout).toBe("active");
            // The node lab3 left behind is gone (its tasks would keep the overlay in use for ever).
            expect(docker(gw, ["node", "ls", "--format", "{{.Hostname}} {{.Status}}"]).stdout.split("\n").sort()).toEqual(["lab1 Ready", "lab2 Ready", "lab3 Ready"]);
            const http = docker(gw, ["exec", "gateway", ...httpGet("http://b/etc/hostname")]);
            expect(http.stderr, "gateway (lab1) -> b (lab3) after lab3 joined again").toContain("200 OK");
            const again = await stack.preview({ onOutput: (s) => process.stdout.write(s) });
            expect(changes(again.changeSummary)).toEqual({});
        }, 900_000);
    }

    opts.extra?.(ctx);

    it("destroy puts every daemon.json back byte for byte and leaves Docker running with nothing of ours", async () => {
        await phase(`${opts.title}: destroy`, () => stack.destroy({ onOutput: (s) => process.stdout.write(s) }));
        destroyed = true;
        expect(daemonJsons(lab)).toEqual(before);
        for (const h of lab.hosts) {
            expect(docker(h, ["info", "--format", "{{.ServerVersion}}"]).status, `docker on ${h.name}`).toBe(0);
            expect(docker(h, ["ps", "-a", "--format", "{{.Names}}"]).stdout, `containers on ${h.name}`).toBe("");
            expect(docker(h, ["network", "ls", "--filter", "name=lab_overlay", "-q"]).stdout, `network on ${h.name}`).toBe("");
            if (opts.clusterStore) expect(((await engineApi(h, "/info")) as { ClusterStore?: string }).ClusterStore ?? "", `cluster store of ${h.name}`).toBe("");
        }
        opts.afterDestroy?.(lab);
    });
}
