import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeHost, runRendered, runStandalone, type RunResult } from "./harness";

const TOKEN = "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx";

let host: FakeHost;
beforeEach(() => {
    host = new FakeHost();
});
afterEach(() => host.cleanup());

function run(name: "swarm-init" | "swarm-tokens" | "swarm-join" | "swarm-leave", vars: Record<string, string> = {}): Promise<RunResult> {
    return runStandalone(name, { ...host.commonVars(), ...vars }, host.fakeEnv());
}

function marker(name: string): string {
    return path.join(host.stateDir, name);
}

function asManagerOf(managers: string, role: "manager" | "worker" = "manager", nodeId = "node-theirs"): void {
    host.setState("swarm-state", "active");
    host.setState("swarm-role", role);
    host.setState("swarm-node-id", nodeId);
    host.setState("swarm-managers", managers);
}

describe("swarm-init", () => {
    it("names a daemon setting Docker refuses swarm mode with, and what to do, not the address", async () => {
        host.setState("swarm-refusal", "--cluster-store and --cluster-advertise daemon configurations are incompatible with swarm mode");
        const r = await run("swarm-init", { ADVERTISE_ADDRESS: "10.210.0.11" });
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("Docker refuses swarm mode while a cluster store is set: take cluster-store and cluster-advertise out");
        expect(r.stderr).not.toContain("interfaces");
        expect(fs.existsSync(marker("swarm-created"))).toBe(false);
    });

    it("initialises an inactive daemon and writes the marker", async () => {
        const r = await run("swarm-init", { ADVERTISE_ADDRESS: "10.210.0.11", DATA_PATH_PORT: "4790" });
        expect(r).toMatchObject({ code: 0, stderr: "" });
        const out = JSON.parse(r.stdout);
        expect(out).toEqual({ nodeId: host.state("swarm-node-id")!.trim(), created: true });
        expect(host.state("swarm-init-args")).toBe("--advertise-addr10.210.0.11--data-path-port4790");
        expect(fs.readFileSync(marker("swarm-created"), "utf8").trim()).toBe(out.nodeId);
    });

    it("leaves an active manager alone, and says whether docker-overlay made it", async () => {
        const first = JSON.parse((await run("swarm-init", { ADVERTISE_ADDRESS: "10.210.0.11" })).stdout);
        const again = await run("swarm-init", { ADVERTISE_ADDRESS: "10.210.0.11" });
        expect(again.code).toBe(0);
        expect(again.stderr).toContain("already a swarm manager; left alone");
        expect(JSON.parse(again.stdout)).toEqual({ nodeId: first.nodeId, created: true });

        const other = new FakeHost();
        try {
            host.cleanup();
            host = other;
            asManagerOf("10.9.9.9:2377");
            const r = await run("swarm-init", { ADVERTISE_ADDRESS: "10.210.0.11" });
            expect(r.code).toBe(0);
            expect(JSON.parse(r.stdout)).toEqual({ nodeId: "node-theirs", created: false });
            expect(fs.existsSync(marker("swarm-created"))).toBe(false);
            expect(host.state("calls.log")).not.toContain("swarm init");
        } finally {
            other.cleanup();
        }
    });

    it("refuses a worker of another swarm", async () => {
        asManagerOf("10.9.9.9:2377", "worker");
        const r = await run("swarm-init", { ADVERTISE_ADDRESS: "10.210.0.11" });
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/^docker-overlay: lab1: this node is a worker in a swarm already/);
        expect(r.stdout).toBe("");
        expect(host.state("swarm-state")).toBe("active");
    });

    it("fails clearly when Docker is down", async () => {
        host.setState("running", undefined);
        const r = await run("swarm-init", { ADVERTISE_ADDRESS: "10.210.0.11" });
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("docker-overlay: lab1: Docker is not answering (Cannot connect to the Docker daemon");
    });

    it("refuses a missing required variable with a clear message", async () => {
        const r = await run("swarm-init");
        expect(r.code).toBe(5);
        expect(r.stderr).toBe("docker-overlay: lab1: ADVERTISE_ADDRESS is required and was not given (see the @var lines at the top of this script)\n");
    });
});

describe("swarm-tokens", () => {
    it("prints both tokens as JSON on a manager", async () => {
        await run("swarm-init", { ADVERTISE_ADDRESS: "10.210.0.11" });
        host.setState("swarm-token-worker", TOKEN);
        const r = await run("swarm-tokens");
        expect(r).toMatchObject({ code: 0, stderr: "" });
        expect(JSON.parse(r.stdout)).toEqual({ worker: TOKEN, manager: "SWMTKN-1-fake-manager-token" });
    });

    it("refuses on a node that is not a manager", async () => {
        const r = await run("swarm-tokens");
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("not a swarm manager");
        expect(r.stdout).toBe("");
    });
});

describe("swarm-join", () => {
    const vars = { MANAGER_ADDRESS: "10.210.0.11:2377", JOIN_TOKEN: TOKEN, ADVERTISE_ADDRESS: "10.210.0.12", ROLE: "worker" };

    it("joins through the Engine API with the token in the request body, in no command's arguments, and writes the marker", async () => {
        host.setState("swarm-valid-token", TOKEN);
        const r = await run("swarm-join", vars);
        expect(r).toMatchObject({ code: 0, stderr: "" });
        const out = JSON.parse(r.stdout);
        expect(out).toEqual({ nodeId: host.state("swarm-node-id")!.trim(), joined: true, role: "worker" });
        expect(fs.readFileSync(marker("swarm-joined"), "utf8").trim()).toBe(out.nodeId);
        expect(r.stdout + r.stderr).not.toContain("SWMTKN");
        // What `docker swarm join` would send, as the body of POST /swarm/join on dial-stdio's stdin ...
        expect(JSON.parse(host.state("swarm-join-body")!)).toEqual({
            ListenAddr: "0.0.0.0:2377",
            AdvertiseAddr: "10.210.0.12",
            RemoteAddrs: ["10.210.0.11:2377"],
            JoinToken: TOKEN,
            Availability: "active",
        });
        // ... and the docker CLI never had it as an argument (calls.log holds every invocation's argv).
        expect(host.state("calls.log")).toContain("system dial-stdio");
        expect(host.state("calls.log")).not.toContain(TOKEN);
        expect(host.state("calls.log")).not.toContain("swarm join");
    });

    it("scrubs the token from docker's error output", async () => {
        host.setState("swarm-valid-token", "SWMTKN-1-the-right-one");
        const r = await runRendered("swarm-join", { DOCKER: host.commonVars().DOCKER!, STATE_DIR: host.stateDir, LOCK_FILE: host.lockFile, HOST_LABEL: "lab1", ...vars }, host.fakeEnv());
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(
            "docker-overlay: lab1: joining the swarm at 10.210.0.11:2377 as worker failed: rpc error: code = InvalidArgument desc = invalid join token [join token hidden] for 10.210.0.11:2377 (HTTP/1.0 500 Internal Server Error)",
        );
        expect(r.stdout + r.stderr).not.toContain(TOKEN);
        expect(r.stdout + r.stderr).not.toContain("SWMTKN");
        // the fake daemon really did echo it back, so the scrubbing is what kept it out
        expect(host.state("swarm-join-body")).toContain(TOKEN);
        expect(host.state("calls.log")).not.toContain(TOKEN);
        expect(fs.existsSync(marker("swarm-joined"))).toBe(false);
    });

    it("gives the hint that matches what Docker said: the token for a refused token, the settings for live-restore, the network for a timeout", async () => {
        host.setState("swarm-valid-token", "SWMTKN-1-the-right-one");
        const join = () => runRendered("swarm-join", { DOCKER: host.commonVars().DOCKER!, STATE_DIR: host.stateDir, LOCK_FILE: host.lockFile, HOST_LABEL: "lab1", ...vars }, host.fakeEnv());
        const token = await join();
        expect(token.stderr).toContain("the worker join token was refused");
        expect(token.stderr).not.toContain("cannot reach");
        host.setState("swarm-refusal", "--live-restore daemon configuration is incompatible with swarm mode");
        const live = await join();
        expect(live.code).toBe(1);
        expect(live.stderr).toContain("failed: --live-restore daemon configuration is incompatible with swarm mode (HTTP/1.0 500 Internal Server Error). Docker refuses swarm mode with live-restore: remove");
        expect(live.stderr).not.toMatch(/token|reach/);
        host.setState("swarm-refusal", "Timeout was reached before node joined. The attempt to join the swarm will continue in the background.");
        expect((await join()).stderr).toContain("this host cannot reach the manager at 10.210.0.11:2377: open 2377/tcp");
        expect(fs.existsSync(marker("swarm-joined"))).toBe(false);
    });

    it("leaves alone a member of the same swarm, adding :2377 when the port is not given", async () => {
        asManagerOf("10.210.0.13:2377\n10.210.0.11:2377\n", "worker");
        const r = await run("swarm-join", { ...vars, MANAGER_ADDRESS: "10.210.0.11" });
        expect(r.code).toBe(0);
        expect(r.stderr).toContain("already in the swarm managed at 10.210.0.11:2377; left alone");
        expect(JSON.parse(r.stdout)).toEqual({ nodeId: "node-theirs", joined: false, role: "worker" });
        expect(host.state("calls.log")).not.toContain("swarm join");
    });

    it("refuses a member of another swarm and does not leave it", async () => {
        asManagerOf("10.9.9.9:2377\n", "worker");
        const r = await run("swarm-join", vars);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("already in another swarm (managers: 10.9.9.9:2377), not the one at 10.210.0.11:2377");
        expect(r.stderr).toContain("never leaves a swarm it did not join");
        expect(host.state("swarm-state")).toBe("active");
        expect(host.state("calls.log")).not.toContain("leave");
    });

    it("warns when the token gave another role than asked", async () => {
        host.setState("swarm-valid-token", TOKEN);
        host.setState("swarm-join-role", "worker");
        const r = await run("swarm-join", { ...vars, ROLE: "manager" });
        expect(r.code).toBe(0);
        expect(JSON.parse(r.stdout).role).toBe("worker");
        expect(r.stderr).toContain("this node is a swarm worker, not a manager as asked");
        expect(r.stderr).not.toContain("SWMTKN");
    });

    it("says what to do when the host's docker CLI has no dial-stdio (older than 18.09), and never falls back to the token as an argument", async () => {
        host.setState("swarm-valid-token", TOKEN);
        host.noDialStdio = true;
        const r = await run("swarm-join", vars);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("this host's docker CLI has no 'system dial-stdio' (it is older than 18.09)");
        expect(host.state("calls.log")).not.toContain(TOKEN);
        expect(host.state("swarm-state")).toBeUndefined();
    });

    it("refuses a bad ROLE without echoing anything token-shaped", async () => {
        const r = await run("swarm-join", { ...vars, ROLE: TOKEN });
        expect(r.code).toBe(5);
        expect(r.stderr).toContain("ROLE must be manager or worker");
        expect(r.stderr).not.toContain("SWMTKN");
    });
});

describe("swarm-leave", () => {
    it("leaves a swarm docker-overlay created, removes the marker, and is idempotent", async () => {
        await run("swarm-init", { ADVERTISE_ADDRESS: "10.210.0.11" });
        const r = await run("swarm-leave", { MARKER: "swarm-created" });
        expect(r).toMatchObject({ code: 0, stdout: '{"left":true}\n', stderr: "" });
        expect(host.state("swarm-state")).toBe("inactive\n");
        expect(fs.existsSync(marker("swarm-created"))).toBe(false);
        const again = await run("swarm-leave", { MARKER: "swarm-created" });
        expect(again).toMatchObject({ code: 0, stdout: '{"left":false}\n' });
    });

    it("leaves a swarm docker-overlay joined", async () => {
        host.setState("swarm-valid-token", TOKEN);
        await run("swarm-join", { MANAGER_ADDRESS: "10.210.0.11:2377", JOIN_TOKEN: TOKEN, ADVERTISE_ADDRESS: "10.210.0.12", ROLE: "worker" });
        const r = await run("swarm-leave", { MARKER: "swarm-joined" });
        expect(r).toMatchObject({ code: 0, stdout: '{"left":true}\n' });
    });

    it("does not touch a swarm docker-overlay did not make (no marker)", async () => {
        asManagerOf("10.9.9.9:2377");
        const r = await run("swarm-leave", { MARKER: "swarm-created" });
        expect(r).toMatchObject({ code: 0, stdout: '{"left":false}\n' });
        expect(host.state("swarm-state")).toBe("active");
        expect(host.state("calls.log") ?? "").toBe("");
    });

    it("does not leave when the node is now in another swarm than the one in the marker", async () => {
        fs.mkdirSync(host.stateDir);
        fs.writeFileSync(marker("swarm-joined"), "node-ours\n");
        asManagerOf("10.9.9.9:2377", "worker", "node-theirs");
        const r = await run("swarm-leave", { MARKER: "swarm-joined" });
        expect(r.code).toBe(0);
        expect(r.stdout).toBe('{"left":false}\n');
        expect(r.stderr).toContain("now in another swarm");
        expect(host.state("swarm-state")).toBe("active");
        expect(fs.existsSync(marker("swarm-joined"))).toBe(false);
    });

    it("fails clearly, keeping the marker, when Docker is down", async () => {
        await run("swarm-init", { ADVERTISE_ADDRESS: "10.210.0.11" });
        host.setState("running", undefined);
        const r = await run("swarm-leave", { MARKER: "swarm-created" });
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/^docker-overlay: lab1: Docker is not answering \(Cannot connect/);
        expect(fs.existsSync(marker("swarm-created"))).toBe(true);
    });

    it("refuses an unknown marker name (it names a file)", async () => {
        const r = await run("swarm-leave", { MARKER: "../../etc/passwd" });
        expect(r.code).toBe(5);
        expect(r.stderr).toContain("MARKER must be swarm-created or swarm-joined");
    });
});

describe("swarm-prune", () => {
    it("removes only the nodes that stand for our hosts under an old ID, down or not yet, and says which", async () => {
        host.setState("swarm-state", "active");
        host.setState("swarm-role", "manager");
        host.setState("swarm-nodes", ["m1 lab1 Ready", "old3 lab3 Down", "n3 lab3 Ready", "old9 other Down", "n2 lab2 Down", "old2 lab2 Ready"].join("\n") + "\n");
        const r = await runRendered("swarm-prune", { DOCKER: host.commonVars().DOCKER!, HOST_LABEL: "lab1", HOSTNAMES: ["lab1", "lab2", "lab3"], CURRENT: ["m1", "n2", "n3"] }, host.fakeEnv());
        expect(r.code, r.stderr).toBe(0);
        expect(JSON.parse(r.stdout)).toEqual({ removed: ["old3", "old2"] });
        expect(r.stderr).toBe(
            "docker-overlay: lab1: removed node old3 (lab3, down: that host joined the swarm again as a new node)\n" +
                "docker-overlay: lab1: removed node old2 (lab2, ready: that host joined the swarm again as a new node)\n",
        );
        // Someone else's down node, and our own host's current one (down for now), stay.
        expect(host.state("swarm-nodes")).toBe(["m1 lab1 Ready", "n3 lab3 Ready", "old9 other Down", "n2 lab2 Down"].join("\n") + "\n");
    });

    it("removes nothing when every node is current", async () => {
        host.setState("swarm-state", "active");
        host.setState("swarm-nodes", "m1 lab1 Ready\n");
        const r = await runRendered("swarm-prune", { DOCKER: host.commonVars().DOCKER!, HOST_LABEL: "lab1", HOSTNAMES: ["lab1"], CURRENT: ["m1"] }, host.fakeEnv());
        expect(JSON.parse(r.stdout)).toEqual({ removed: [] });
        expect(host.state("nodes-removed")).toBeUndefined();
    });
});
