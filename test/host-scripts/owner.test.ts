// One stack per host, one docker-overlay script at a time (lib/owner.sh), with the real scripts
// run by bash against a fake host (throwaway directories and the fake docker CLI) and the real
// flock(1). What preflight says about another stack's host is in test/unit/preflight.test.ts;
// a second stack on the lab's hosts, refused in preview and by the scripts, in test/e2e/change.test.ts.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FAKE_LOG, FAKE_RESTART, FakeHost, runStandalone, type RunResult } from "./harness";

const A = "docker-overlay/dev";
const B = "docker-overlay/prod";
const STORE = "etcd://10.210.0.11:2379";

let host: FakeHost;
beforeEach(() => {
    host = new FakeHost();
    fs.writeFileSync(host.daemonJson, '{"log-level": "warn"}\n');
});
afterEach(() => host.cleanup());

const owner = () => path.join(host.stateDir, "owner");
const run = (name: Parameters<typeof runStandalone>[0], vars: Record<string, string>) => runStandalone(name, { ...host.commonVars(), ...vars }, host.fakeEnv());
const backup = (OWNER: string, ACTION = "keep") => run("daemon-config-backup", { OWNER, ACTION });
const apply = (OWNER: string) =>
    run("daemon-config-apply", {
        OWNER,
        CONTENT_BASE64: Buffer.from(`{"cluster-store": "${STORE}"}\n`).toString("base64"),
        EXPECT_CLUSTER_STORE: STORE,
        RESTART_COMMAND: FAKE_RESTART,
        DAEMON_LOG_COMMAND: FAKE_LOG,
        SYSTEMD_UNIT_PATHS: "",
        WAIT_SECONDS: "2",
        POLL_SECONDS: "0.1",
    });

/** Every file under the host's root but the fake daemon's bookkeeping, with its bytes. */
function snapshot(): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (dir: string) => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
            const p = path.join(dir, e.name);
            if (p.startsWith(host.fakeState)) continue;
            if (e.isDirectory()) walk(p);
            else out[path.relative(host.root, p)] = fs.readFileSync(p, "utf8");
        }
    };
    walk(host.root);
    return out;
}

function refusedFor(r: RunResult, by: string, asker: string): void {
    expect(r.code).toBe(6);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
        `docker-overlay: lab1: this host is configured by the stack ${by}, not by ${asker}; two stacks on one host undo each other's work. Nothing was changed. Manage it from ${by} (or run pulumi destroy --run-program there first); if that stack is gone for good, remove ${host.stateDir}/owner on this host\n`,
    );
}

describe("the owner record", () => {
    it("is written by the first change, kept for the same stack, and goes with the last of its state", async () => {
        expect((await backup(A)).code).toBe(0);
        expect(fs.readFileSync(owner(), "utf8")).toBe(`${A}\n`);
        expect((await apply(A)).code).toBe(0);
        const restore = await run("daemon-config-restore", { OWNER: A, FORGET: "true", RESTART_COMMAND: FAKE_RESTART, WAIT_SECONDS: "2", POLL_SECONDS: "0.1" });
        expect(restore.code).toBe(0);
        expect(fs.existsSync(host.stateDir)).toBe(false);
    });

    it("makes every changing script refuse another stack, changing nothing", async () => {
        expect((await backup(A)).code).toBe(0);
        expect((await apply(A)).code).toBe(0);
        const restarts = host.restarts;
        const before = snapshot();
        refusedFor(await backup(B), A, B);
        refusedFor(await apply(B), A, B);
        refusedFor(await run("daemon-config-restore", { OWNER: B, RESTART_COMMAND: FAKE_RESTART, WAIT_SECONDS: "2" }), A, B);
        refusedFor(await backup(B, "forget"), A, B);
        refusedFor(await run("swarm-init", { OWNER: B, ADVERTISE_ADDRESS: "10.210.0.11" }), A, B);
        refusedFor(await run("swarm-leave", { OWNER: B, MARKER: "swarm-created" }), A, B);
        refusedFor(await run("overlay-rejoin", { OWNER: B, ACTION: "forget" }), A, B);
        expect(snapshot()).toEqual(before);
        expect(host.restarts).toBe(restarts);
        expect(host.state("swarm-init-args")).toBeUndefined();
    });

    it("is written by swarm-init and removed by swarm-leave when nothing else is left", async () => {
        expect((await run("swarm-init", { OWNER: A, ADVERTISE_ADDRESS: "10.210.0.11" })).code).toBe(0);
        expect(fs.readFileSync(owner(), "utf8")).toBe(`${A}\n`);
        refusedFor(await run("swarm-init", { OWNER: B, ADVERTISE_ADDRESS: "10.210.0.11" }), A, B);
        expect((await run("swarm-leave", { OWNER: A, MARKER: "swarm-created" })).code).toBe(0);
        expect(fs.existsSync(host.stateDir)).toBe(false);
    });

    it("stays while another part of the stack's state is left (a swarm marker after the daemon.json backup went)", async () => {
        expect((await backup(A)).code).toBe(0);
        expect((await run("swarm-init", { OWNER: A, ADVERTISE_ADDRESS: "10.210.0.11" })).code).toBe(0);
        expect((await backup(A, "forget")).code).toBe(0);
        expect(fs.readFileSync(owner(), "utf8")).toBe(`${A}\n`);
        expect((await run("swarm-leave", { OWNER: A, MARKER: "swarm-created" })).code).toBe(0);
        expect(fs.existsSync(host.stateDir)).toBe(false);
    });

    it("is adopted by the first stack on a host an older docker-overlay configured (no record)", async () => {
        fs.mkdirSync(host.stateDir, { mode: 0o700 });
        fs.writeFileSync(path.join(host.stateDir, "daemon.json.orig"), '{"log-level": "warn"}\n');
        expect((await backup(B)).code).toBe(0);
        expect(fs.readFileSync(owner(), "utf8")).toBe(`${B}\n`);
    });
});

describe("the host lock", () => {
    const holders: ReturnType<typeof spawn>[] = [];
    afterEach(() => {
        for (const h of holders.splice(0)) h.kill();
    });
    /** Holds the host's lock with flock(1) for SECONDS; resolves once it is held. */
    async function holdLock(seconds: number): Promise<void> {
        const holder = spawn("flock", [host.lockFile, "sh", "-c", `echo held; sleep ${seconds}`], { stdio: ["ignore", "pipe", "inherit"] });
        holders.push(holder);
        await new Promise<void>((resolve) => holder.stdout.once("data", () => resolve()));
    }

    it("makes a script wait for another docker-overlay script on the host, then run", async () => {
        await holdLock(2);
        const t0 = Date.now();
        const r = await run("daemon-config-backup", { OWNER: A, LOCK_SECONDS: "30" });
        expect(r.code).toBe(0);
        expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
        expect(fs.readFileSync(owner(), "utf8")).toBe(`${A}\n`);
    });

    it("is not kept by a daemon the restart command leaves running (sysvinit scripts start dockerd as their child)", async () => {
        const restart = path.join(host.root, "restart-leaving-a-daemon");
        fs.writeFileSync(restart, `#!/bin/sh\nsleep 30 &\nexec ${FAKE_RESTART} "$@"\n`, { mode: 0o755 });
        expect((await backup(A)).code).toBe(0);
        const r = await run("daemon-config-apply", {
            OWNER: A,
            CONTENT_BASE64: Buffer.from(`{"cluster-store": "${STORE}"}\n`).toString("base64"),
            EXPECT_CLUSTER_STORE: STORE,
            RESTART_COMMAND: restart,
            SYSTEMD_UNIT_PATHS: "",
            WAIT_SECONDS: "2",
            POLL_SECONDS: "0.1",
        });
        expect(r.code).toBe(0);
        // The sleep still runs; the lock is free at once all the same.
        const next = await run("daemon-config-backup", { OWNER: A, LOCK_SECONDS: "0" });
        expect(next.stderr).toBe("");
        expect(next.code).toBe(0);
    });

    it("gives up after LOCK_SECONDS, saying who to look for, changing nothing", async () => {
        await holdLock(10);
        const before = snapshot();
        const r = await run("daemon-config-apply", { OWNER: A, LOCK_SECONDS: "1", CONTENT_BASE64: "e30K", EXPECT_CLUSTER_STORE: STORE, RESTART_COMMAND: FAKE_RESTART });
        expect(r.code).toBe(7);
        expect(r.stderr).toBe(
            `docker-overlay: lab1: another docker-overlay run has held ${host.lockFile} for over 1s (another pulumi up or destroy on this host?). Nothing was changed. Wait for it to end; if none is running, find the holder with: fuser -v ${host.lockFile}\n`,
        );
        expect(snapshot()).toEqual(before);
    });
});
