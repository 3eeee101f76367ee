/**
 * overlay-rejoin, run for real with bash against a stub docker CLI (written here) that records
 * its calls: which containers it stops and starts, the addresses it reports, what it records for
 * preflight, and its refusals. That this heals the overlay after a Docker restart is shown end to
 * end in test/e2e/flow.ts and test/e2e/consul-cluster.test.ts.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runRendered } from "./harness";

let dir: string;
let docker: string;
const calls = () => fs.readFileSync(path.join(dir, "calls.log"), "utf8").trim().split("\n");
beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rejoin-"));
    docker = path.join(dir, "docker");
    // network: exists while `network inspect` succeeds; containers: ids on it, one a line;
    // addr-ID: its address (addr-ID.after: the one it gets when started again); fail-stop/-start.
    fs.writeFileSync(
        docker,
        `#!/usr/bin/env bash
printf '%s\\n' "$*" >>"${dir}/calls.log"
case "$1 $2" in
  "network inspect") [[ -e "${dir}/network" ]] ;;
  "ps -q") cat "${dir}/containers" 2>/dev/null || true ;;
  "inspect --format")
    case "$3" in
      "{{.Name}}") shift 3; for id in "$@"; do echo "/name-$id"; done ;;
      *) shift 3; for id in "$@"; do echo "$id $(cat "${dir}/addr-$id" 2>/dev/null)"; done ;;
    esac ;;
  "stop -t") [[ ! -e "${dir}/fail-stop" ]] ;;
  "start "*)
    [[ ! -e "${dir}/fail-start" ]] || { echo "Error response from daemon: cannot start" >&2; exit 1; }
    # stale-NAME: a record of that name in the store; the start fails as Docker's does.
    for s in "${dir}"/stale-*; do
      [[ -e $s ]] || continue
      echo "Error response from daemon: endpoint with name \${s##*/stale-} already exists in network $(cat "$s")" >&2
      echo "Error: failed to start containers: c1" >&2; exit 1
    done
    shift; for id in "$@"; do if [[ -e "${dir}/addr-$id.after" ]]; then mv "${dir}/addr-$id.after" "${dir}/addr-$id"; fi; done ;;
  "rename "*) [[ ! -e "${dir}/fail-rename-$3" ]] ;;
  "network disconnect")
    # -f with a name no container has: Docker deletes the endpoint record of that name.
    [[ $3 == -f && -e "${dir}/stale-$5" && ! -e "${dir}/fail-disconnect" ]] || exit 1
    rm "${dir}/stale-$5" ;;
  *) echo "stub docker: unexpected $*" >&2; exit 99 ;;
esac
`,
        { mode: 0o755 },
    );
    // This process stands in for dockerd: its pid file names a live process.
    fs.writeFileSync(path.join(dir, "docker.pid"), `${process.pid}\n`);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const vars = (over: Record<string, string | number> = {}) => ({ SETTLE_SECONDS: 0, DOCKER: docker, PID_FILE: path.join(dir, "docker.pid"), STATE_DIR: path.join(dir, "state"), HOST_LABEL: "lab2", NETWORK: "lab_overlay", EPOCH: 3, ...over });
const record = () => fs.readFileSync(path.join(dir, "state", "dockerd-epoch"), "utf8");
const onNetwork = (containers: Record<string, [string, string?]>) => {
    fs.writeFileSync(path.join(dir, "network"), "");
    fs.writeFileSync(path.join(dir, "containers"), Object.keys(containers).join("\n") + "\n");
    for (const [id, [now, after]] of Object.entries(containers)) {
        fs.writeFileSync(path.join(dir, `addr-${id}`), now);
        if (after) fs.writeFileSync(path.join(dir, `addr-${id}.after`), after);
    }
};

describe("overlay-rejoin", () => {
    it("stops every running container on the network at once, starts them again, reports each one's address before and after, and records this dockerd with the count", async () => {
        onNetwork({ c1: ["10.0.1.2", "10.0.1.7"], c2: ["10.0.1.3"] });
        const r = await runRendered("overlay-rejoin", vars(), process.env);
        expect(r.code).toBe(0);
        expect(r.stderr).toBe("docker-overlay: lab2: stopped and started 2 container(s) on lab_overlay (name-c1,name-c2), so that every host learns their endpoints again\n");
        expect(JSON.parse(r.stdout)).toEqual({ addresses: { c1: { before: "10.0.1.2", after: "10.0.1.7" }, c2: { before: "10.0.1.3", after: "10.0.1.3" } } });
        expect(calls().filter((c) => !c.startsWith("inspect"))).toEqual(["network inspect lab_overlay", "ps -q --no-trunc --filter network=lab_overlay", "stop -t 10 c1 c2", "start c1 c2"]);
        // "<boot ID>/<start ticks> <count>": the start time of the process in the pid file.
        const start = fs.readFileSync(`/proc/${process.pid}/stat`, "utf8").split(") ")[1]!.split(" ")[19];
        const boot = fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
        expect(record()).toBe(`${boot}/${start} 3\n`);
    });

    it("with no network yet (the first up), restarts nothing, reports nothing and still records", async () => {
        const first = await runRendered("overlay-rejoin", vars({ EPOCH: 0 }), process.env);
        expect(first).toMatchObject({ code: 0, stderr: "docker-overlay: lab2: no running container on lab_overlay to announce again\n", stdout: '{"addresses":{}}\n' });
        expect(calls()).toEqual(["network inspect lab_overlay"]);
        expect(record()).toMatch(/^\S+\/\d+ 0\n$/);
    });

    it("waits for the daemon's gossip port first, and restarts nothing when it never opens", async () => {
        onNetwork({ c1: ["10.0.1.2"] });
        const r = await runRendered("overlay-rejoin", vars({ GOSSIP_ADDRESS: "127.0.0.1:1", WAIT_SECONDS: 1 }), process.env);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("docker-overlay: lab2: Docker's gossip on 127.0.0.1:1 did not accept connections within 1s; nothing was restarted");
        expect(fs.existsSync(path.join(dir, "calls.log"))).toBe(false);
        expect(fs.existsSync(path.join(dir, "state", "dockerd-epoch"))).toBe(false);
    });

    it("fails, naming the containers, when they cannot be started again, and records nothing", async () => {
        onNetwork({ c1: ["10.0.1.2"] });
        fs.writeFileSync(path.join(dir, "fail-start"), "");
        const r = await runRendered("overlay-rejoin", vars(), process.env);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("could not start the containers on lab_overlay again (name-c1): Error response from daemon: cannot start. See docker ps -a on lab2, and run pulumi up again");
        expect(calls().some((c) => c.startsWith("rename") || c.startsWith("network disconnect"))).toBe(false);
        expect(calls()).toContain("stop -t 10 c1");
        expect(fs.existsSync(path.join(dir, "state", "dockerd-epoch"))).toBe(false);
    });

    it("a container refused because the store still holds an endpoint of its name (a daemon gone before cleaning up): that record is removed by name while the container steps aside, and it starts", async () => {
        onNetwork({ c1: ["10.0.1.2", "10.0.1.9"], c2: ["10.0.1.3"] });
        fs.writeFileSync(path.join(dir, "stale-name-c1"), "lab_overlay");
        const r = await runRendered("overlay-rejoin", vars(), process.env);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toContain("docker-overlay: lab2: removed the endpoint record of name-c1 that an earlier Docker left in the cluster store on lab_overlay (it kept name-c1 from starting again)\n");
        expect(calls().filter((c) => !c.startsWith("inspect")).slice(2)).toEqual([
            "stop -t 10 c1 c2",
            "start c1 c2",
            "rename name-c1 name-c1.docker-overlay-aside",
            "network disconnect -f lab_overlay name-c1",
            "rename name-c1.docker-overlay-aside name-c1",
            "start c1 c2",
        ]);
        expect(JSON.parse(r.stdout)).toEqual({ addresses: { c1: { before: "10.0.1.2", after: "10.0.1.9" }, c2: { before: "10.0.1.3", after: "10.0.1.3" } } });
        expect(record()).toMatch(/ 3\n$/);
    });

    it("a name taken on another network, or by a container this run did not stop, is not touched: the run fails and records nothing", async () => {
        onNetwork({ c1: ["10.0.1.2"] });
        fs.writeFileSync(path.join(dir, "stale-name-c1"), "other_net");
        const other = await runRendered("overlay-rejoin", vars(), process.env);
        expect(other.code).toBe(1);
        expect(other.stderr).toContain("endpoint with name name-c1 already exists in network other_net");
        fs.rmSync(path.join(dir, "stale-name-c1"));
        fs.writeFileSync(path.join(dir, "stale-someone"), "lab_overlay");
        const notOurs = await runRendered("overlay-rejoin", vars(), process.env);
        expect(notOurs.code).toBe(1);
        expect(notOurs.stderr).toContain("could not start the containers on lab_overlay again (name-c1): Error response from daemon: endpoint with name someone already exists");
        expect(calls().some((c) => c.startsWith("rename") || c.startsWith("network disconnect"))).toBe(false);
        expect(fs.existsSync(path.join(dir, "state", "dockerd-epoch"))).toBe(false);
    });

    it("when Docker does not remove the record, the container gets its name back and the run fails naming it", async () => {
        onNetwork({ c1: ["10.0.1.2"] });
        fs.writeFileSync(path.join(dir, "stale-name-c1"), "lab_overlay");
        fs.writeFileSync(path.join(dir, "fail-disconnect"), "");
        const r = await runRendered("overlay-rejoin", vars(), process.env);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("could not start the containers on lab_overlay again (name-c1): Error response from daemon: endpoint with name name-c1 already exists in network lab_overlay");
        expect(calls().filter((c) => c.startsWith("rename"))).toEqual(["rename name-c1 name-c1.docker-overlay-aside", "rename name-c1.docker-overlay-aside name-c1"]);
        // ... and one that cannot get its name back says the command that gives it back.
        fs.writeFileSync(path.join(dir, "fail-rename-name-c1"), "");
        const stuck = await runRendered("overlay-rejoin", vars(), process.env);
        expect(stuck.code).toBe(1);
        expect(stuck.stderr).toContain("container name-c1 is named name-c1.docker-overlay-aside now and could not get its name back: run docker rename name-c1.docker-overlay-aside name-c1 on lab2, then pulumi up again");
    });

    it("refuses when no dockerd runs (nothing in the pid file), and a bad count, before touching anything", async () => {
        onNetwork({ c1: ["10.0.1.2"] });
        fs.writeFileSync(path.join(dir, "docker.pid"), "999999999\n");
        const r = await runRendered("overlay-rejoin", vars(), process.env);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("cannot tell which dockerd runs here");
        const bad = await runRendered("overlay-rejoin", vars({ EPOCH: "x" }), process.env);
        expect(bad.code).toBe(5);
        expect(bad.stderr).toContain("EPOCH must be a whole number, got 'x'");
        expect(fs.existsSync(path.join(dir, "calls.log"))).toBe(false);
    });

    it("keep (an update with the same generation) restarts nothing and reports the current addresses", async () => {
        onNetwork({ c1: ["10.0.1.2"] });
        const r = await runRendered("overlay-rejoin", vars({ ACTION: "keep" }), process.env);
        expect(r).toMatchObject({ code: 0, stderr: "docker-overlay: lab2: no Docker restarted since the last up; nothing to announce again\n" });
        expect(JSON.parse(r.stdout)).toEqual({ addresses: { c1: { before: "10.0.1.2", after: "10.0.1.2" } } });
        expect(calls().some((c) => c.startsWith("stop") || c.startsWith("start"))).toBe(false);
        expect(fs.existsSync(path.join(dir, "state", "dockerd-epoch"))).toBe(false);
    });

    it("forget removes the record, and only it", async () => {
        await runRendered("overlay-rejoin", vars(), process.env);
        fs.writeFileSync(path.join(dir, "state", "daemon.json.orig"), "{}");
        const r = await runRendered("overlay-rejoin", vars({ ACTION: "forget" }), process.env);
        expect(r).toMatchObject({ code: 0, stdout: "docker-overlay: lab2: forgot which Docker daemon runs here\n" });
        expect(fs.readdirSync(path.join(dir, "state"))).toEqual(["daemon.json.orig"]);
    });
});
