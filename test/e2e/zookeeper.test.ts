// Why `kv.backend: zookeeper` is refused, shown on the lab. ZooKeeper is the third store Docker's
// cluster-store accepts, and with it dockerd 20.10.24 dies the moment a container joins an
// overlay network: libkv's ZooKeeper client lists keys by their last path element only, so
// libnetwork never finds the network's endpoint count and dereferences nil
// (endpointCnt.Key). Both builds crash: moby's (the lab's) and Debian's `docker.io`.
// By hand, as the seed would: ZooKeeper on lab1 (dolab/zookeeper:3.8, made on demand), two
// daemons pointed at zk://, an overlay network, one container. Then the stack with
// `kv.backend: zookeeper` is refused in preview, touching no host.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZOOKEEPER_REFUSED } from "../../components/config";
import { type Lab, type LabHost, labExec, REPO } from "../../scripts/labStack";
import { collector, daemonJsons, docker, freshLab, holdLabSession, labStack, phase } from "./harness";
import { poll } from "./poll";

const STATE = "/var/lib/docker-overlay-lab";
const DAEMON_JSON = '{"cluster-store": "zk://10.210.0.11:2181", "cluster-advertise": "eth0:2376", "cluster-store-opts": {"discovery.heartbeat": "3", "discovery.ttl": "20"}}\n';
const labSh = (...args: string[]) =>
    execFileSync("bash", [`${REPO}/lab/lab.sh`, ...args], { cwd: REPO, stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, DOCKER_OVERLAY_LAB_SESSION: "held" } });
const dockerdLog = (h: LabHost) => fs.readFileSync(`${STATE}/hosts/${h.name}/log/dockerd.log`, "utf8");
const dockerUp = (h: LabHost) => docker(h, ["version", "--format", "{{.Server.Version}}"]).status === 0;

describe("ZooKeeper as Docker's cluster store (why the config refuses it)", () => {
    let lab: Lab;
    let release: () => void = () => {};

    beforeAll(async () => {
        release = await holdLabSession();
        lab = await phase("zookeeper: lab set-up", () => freshLab(2));
        await phase("zookeeper: image on lab1", () => labSh("load-image", "zookeeper", "lab1"));
    }, 900_000);

    afterAll(() => {
        release();
    });

    it("dockerd 20.10.24 on zk:// dies on a nil pointer when the first container joins the overlay", async () => {
        const [lab1, lab2] = [lab.hosts[0]!, lab.hosts[1]!];
        const zk = docker(lab1, ["run", "-d", "--name", "zk", "--network", "host", "--restart", "always", "-e", "ZOO_4LW_COMMANDS_WHITELIST=ruok", "-e", "ZOO_ADMINSERVER_ENABLED=false", lab.images.zookeeper]);
        expect(zk.status, zk.stderr).toBe(0);
        const ruok = () => labExec("lab1", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/2181 && printf ruok >&3 && cat <&3 || true").trim();
        expect((await poll(ruok, (answer) => answer === "imok", { withinMs: 60_000, everyMs: 1000 })).value, "ZooKeeper answers ruok").toBe("imok");
        for (const h of [lab1, lab2]) {
            labExec(h.name, "sh", "-c", `printf '%s' '${DAEMON_JSON.trim()}' > /etc/docker/daemon.json && /usr/local/sbin/dolab-dockerd restart >/dev/null`);
            const info = docker(h, ["info", "--format", "{{json .}}"]);
            expect(info.status, info.stderr).toBe(0);
        }
        await new Promise((r) => setTimeout(r, 8000)); // discovery heartbeat and gossip (docs/lab.md)
        // The network itself is created and seen everywhere: that part goes through the store.
        const net = docker(lab1, ["network", "create", "-d", "overlay", "zknet"]);
        expect(net.status, net.stderr).toBe(0);
        expect(docker(lab2, ["network", "inspect", "zknet", "--format", "{{.Scope}}"]).stdout).toBe("global");
        // The first container on it takes its host's Docker down.
        const run = docker(lab1, ["run", "-d", "--name", "c1", "--network", "zknet", lab.images.busybox, "sleep", "600"]);
        expect(run.status, "the run fails: the daemon died under it").not.toBe(0);
        await new Promise((r) => setTimeout(r, 2000));
        expect(dockerUp(lab1), "dockerd on lab1 is gone").toBe(false);
        const log = dockerdLog(lab1);
        expect(log).toContain("panic: runtime error: invalid memory address or nil pointer dereference");
        expect(log).toMatch(/libnetwork\.\(\*endpointCnt\)\.Key\(0x0\)/);
        expect(log).toContain("processEndpointCreate");
        // Its supervisor starting it again does not help: the next container does the same.
        labExec("lab1", "/usr/local/sbin/dolab-dockerd", "start");
        expect(dockerUp(lab1)).toBe(true);
        docker(lab1, ["rm", "-f", "c1"]);
        const again = docker(lab1, ["run", "-d", "--name", "c2", "--network", "zknet", lab.images.busybox, "sleep", "600"]);
        expect(again.status).not.toBe(0);
        await new Promise((r) => setTimeout(r, 2000));
        expect(dockerdLog(lab1).match(/^panic: /gm)?.length).toBe(2);
    }, 600_000);

    it("the stack with kv.backend zookeeper is refused in preview, naming why, and touches no host", async () => {
        // A fresh lab: the hosts above are wrecked on purpose.
        lab = await phase("zookeeper: fresh lab for the preview", () => freshLab(3));
        const before = daemonJsons(lab);
        const stack: Stack = await labStack(lab, "e2e-zookeeper", { kv: { backend: "zookeeper", host: "lab1" } });
        const out = collector();
        const error = await stack.preview({ onOutput: out.onOutput }).then(
            () => "",
            (e: unknown) => String((e as Error).message),
        );
        expect(error).not.toBe("");
        expect(out.lines.join("") + error).toContain(`\`docker-overlay:kv.backend\` is "zookeeper": ${ZOOKEEPER_REFUSED}`);
        expect(daemonJsons(lab)).toEqual(before);
        for (const h of lab.hosts) expect(docker(h, ["ps", "-aq"]).stdout).toBe("");
    }, 600_000);
});
