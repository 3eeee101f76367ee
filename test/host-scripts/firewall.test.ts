// firewall.sh with a fake iptables that keeps its rules in a file: what the chain holds, that
// the jump is there once, and that remove takes out exactly the chain and the jump. The rules'
// effect on real packets (a host outside the cluster refused, the cluster working) is proven on
// the lab: test/e2e/firewall.test.ts.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeHost, runRendered } from "./harness";

// A tiny iptables: the filter table as lines "CHAIN RULE..." in $FAKE_IPT, INPUT holding a rule
// of someone else's from the start. Only what firewall.sh uses: -w N, -S, -N, -F, -X, -A, -I, -C, -D.
const FAKE_IPTABLES = `#!/usr/bin/env bash
set -u
f=$FAKE_IPT
[ "$1" = -w ] && shift 2
op=$1 chain=$2; shift 2
has_chain() { grep -q "^:$chain\\$" "$f"; }
rule="$chain $*"
case $op in
  -S) has_chain || { echo "iptables: No chain/target/match by that name." >&2; exit 1; }; grep "^$chain " "$f"; exit 0 ;;
  -N) has_chain && exit 1; echo ":$chain" >>"$f" ;;
  -F) grep -v "^$chain " "$f" >"$f.t"; mv "$f.t" "$f" ;;
  -X) grep -q " -j $chain\\$" "$f" && { echo "chain in use" >&2; exit 1; }; grep -v "^:$chain\\$" "$f" >"$f.t"; mv "$f.t" "$f" ;;
  -A) echo "$rule" >>"$f" ;;
  -I) n=$1; shift; rule="$chain $*"; { grep -v "^$chain " "$f"; { echo "$rule"; grep "^$chain " "$f"; }; } >"$f.t"; mv "$f.t" "$f" ;;
  -C) grep -qxF "$rule" "$f" ;;
  -D) grep -vxF "$rule" "$f" >"$f.t"; mv "$f.t" "$f" ;;
  *) echo "fake iptables: $op not known" >&2; exit 2 ;;
esac
`;

let host: FakeHost;
let rules: string;
beforeEach(() => {
    host = new FakeHost();
    rules = path.join(host.root, "iptables.rules");
    fs.writeFileSync(rules, ":INPUT\nINPUT -p tcp --dport 22 -j ACCEPT\n");
    fs.writeFileSync(path.join(host.root, "iptables"), FAKE_IPTABLES, { mode: 0o755 });
});
afterEach(() => host.cleanup());

const run = (vars: Record<string, string | string[]>, ssh = "10.210.0.1 40000 10.210.0.11 22") =>
    runRendered("firewall", { ...host.commonVars(), IPTABLES: path.join(host.root, "iptables"), OWNER: "docker-overlay/dev", ...vars }, { ...host.fakeEnv(), FAKE_IPT: rules, SSH_CONNECTION: ssh });
const apply = (extra: Record<string, string | string[]> = {}) =>
    run({ ACTION: "apply", PEERS: ["10.210.0.11", "10.210.0.12"], TCP_PORTS: ["8500", "8300:8302", "7946"], UDP_PORTS: ["7946", "4789"], OPERATOR_PORTS: ["8500"], ...extra });
const table = () => fs.readFileSync(rules, "utf8");
/** The rules of CHAIN, in order. */
const chain = (name: string) => table().split("\n").filter((l) => l.startsWith(`${name} `));

const CHAIN = [
    "DOCKER-OVERLAY -i lo -j RETURN",
    "DOCKER-OVERLAY -i docker0 -j RETURN",
    "DOCKER-OVERLAY -i docker_gwbridge -j RETURN",
    "DOCKER-OVERLAY -i br-+ -j RETURN",
    "DOCKER-OVERLAY -s 10.210.0.11/32 -j RETURN",
    "DOCKER-OVERLAY -s 10.210.0.12/32 -j RETURN",
    "DOCKER-OVERLAY -s 10.210.0.1/32 -p tcp -m multiport --dports 8500 -j RETURN",
    "DOCKER-OVERLAY -p tcp -m multiport --dports 8500,8300:8302,7946 -j REJECT --reject-with tcp-reset",
    "DOCKER-OVERLAY -p udp -m multiport --dports 7946,4789 -j REJECT --reject-with icmp-port-unreachable",
];

describe("firewall", () => {
    it("apply: one chain with the peers, the operator (from SSH_CONNECTION) on the store's port, then refusals; one jump at the top of INPUT; the host's own rule kept", async () => {
        const r = await apply();
        expect(r.code, r.stderr).toBe(0);
        expect(chain("INPUT")).toEqual(["INPUT -m comment --comment docker-overlay -j DOCKER-OVERLAY", "INPUT -p tcp --dport 22 -j ACCEPT"]);
        expect(chain("DOCKER-OVERLAY")).toEqual(CHAIN);
        expect(r.stderr).toBe("docker-overlay: lab1: chain DOCKER-OVERLAY: tcp 8500,8300:8302,7946, udp 7946,4789 accept only 10.210.0.11 10.210.0.12 (and 10.210.0.1 on tcp 8500)\n");
    });

    it("apply again with other peers: the chain is refilled, the jump stays single", async () => {
        expect((await apply()).code).toBe(0);
        expect((await apply({ PEERS: ["10.210.0.13"] })).code).toBe(0);
        expect(table().split("\n").filter((l) => l.includes("-j DOCKER-OVERLAY"))).toHaveLength(1);
        expect(table()).toContain("DOCKER-OVERLAY -s 10.210.0.13/32 -j RETURN");
        expect(table()).not.toContain("10.210.0.12");
    });

    it("remove: the jump and the chain go, nothing else; again: nothing to do", async () => {
        expect((await apply()).code).toBe(0);
        const r = await run({ ACTION: "remove" });
        expect(r.code, r.stderr).toBe(0);
        expect(table()).toBe(":INPUT\nINPUT -p tcp --dport 22 -j ACCEPT\n");
        expect(fs.existsSync(host.stateDir)).toBe(false);
        expect((await run({ ACTION: "remove" })).code).toBe(0);
    });

    it("refuses, changing nothing: an address that is not IPv4, a bad port, no operator address to keep", async () => {
        expect((await apply({ PEERS: ["fd00::1"] })).code).toBe(5);
        expect((await apply({ TCP_PORTS: ["8500;rm"] })).code).toBe(5);
        expect((await run({ ACTION: "apply", PEERS: ["10.210.0.11"], TCP_PORTS: ["8500"], OPERATOR_PORTS: ["8500"] }, "")).code).toBe(5);
        expect(table()).toBe(":INPUT\nINPUT -p tcp --dport 22 -j ACCEPT\n");
    });

    it("without iptables on the host: says so, changes nothing", async () => {
        const r = await apply({ IPTABLES: "/nonexistent/iptables" });
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("install iptables, or set firewall: false");
    });
});
