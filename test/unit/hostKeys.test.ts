// Host keys: which key each host must present. The known_hosts lookups go through the real
// `ssh-keygen -F` on files written here (plain, hashed with `ssh-keygen -H`, patterns, ports,
// `@revoked`), so what is tested is what OpenSSH itself would match. Whether every SSH client
// then refuses another key is tested in hostProbe.test.ts (preflight), command-provider.test.ts
// (the remote commands) and test/e2e/preflight.test.ts (the whole program on the lab).
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HostConfig } from "../../components/config";
import { expandHome, insecureWarning, knownHostsName, lookupKnownHosts, parseKeygenFind, pinnableKey, resolveHostKeys, unpinnedProblems } from "../../components/hostKeys";
import { sshOptions } from "../../components/sshFiles";

let dir: string;
const keys: Record<string, string> = {};
function keygen(name: string, type: string): string {
    const file = path.join(dir, name);
    execFileSync("ssh-keygen", ["-q", "-t", type, ...(type === "rsa" ? ["-b", "2048"] : []), "-N", "", "-C", "", "-f", file]);
    return fs.readFileSync(`${file}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
}

beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "docker-overlay-hostkeys-"));
    keys.ed = keygen("ed", "ed25519");
    keys.ec = keygen("ec", "ecdsa");
    keys.rsa = keygen("rsa", "rsa");
    keys.old = keygen("old", "ed25519");
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function knownHosts(name: string, lines: string[], hashed = false): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, lines.join("\n") + "\n");
    if (hashed) execFileSync("ssh-keygen", ["-q", "-H", "-f", file], { stdio: "ignore" });
    return file;
}

const host = (over: Partial<HostConfig> = {}): HostConfig => ({ name: "app1", address: "10.0.0.1", sshPort: 22, sshUser: "root", swarmRole: "manager", ...over });
const ssh = (over: { knownHostsFile?: string; insecureAcceptAnyHostKey?: boolean } = {}) => ({ insecureAcceptAnyHostKey: false, ...over });

describe("known_hosts through ssh-keygen -F", () => {
    it("finds a host's keys in a plain file, by address and by [address]:port", () => {
        const file = knownHosts("plain", [`10.0.0.1 ${keys.rsa}`, `10.0.0.1,app1 ${keys.ec} a comment`, `[10.0.0.2]:2222 ${keys.ed}`, `10.0.0.20 ${keys.old}`]);
        expect(lookupKnownHosts(file, "10.0.0.1")).toEqual([
            { key: keys.rsa, marker: "" },
            { key: keys.ec, marker: "" },
        ]);
        expect(lookupKnownHosts(file, knownHostsName("10.0.0.2", 2222))).toEqual([{ key: keys.ed, marker: "" }]);
        expect(lookupKnownHosts(file, "10.0.0.2")).toEqual([]);
        expect(lookupKnownHosts(file, "10.0.0.3")).toEqual([]);
    });

    it("finds them in a hashed file (Debian's default, HashKnownHosts yes) and through patterns", () => {
        const file = knownHosts("hashed", [`10.0.0.1 ${keys.ed}`, `10.9.* ${keys.ec}`], true);
        expect(fs.readFileSync(file, "utf8")).not.toContain("10.0.0.1");
        expect(lookupKnownHosts(file, "10.0.0.1")).toEqual([{ key: keys.ed, marker: "" }]);
        expect(lookupKnownHosts(file, "10.9.3.4")).toEqual([{ key: keys.ec, marker: "" }]);
    });

    it("marks @revoked and @cert-authority lines, and never pins them", () => {
        const file = knownHosts("marked", [`@revoked 10.0.0.1 ${keys.old}`, `10.0.0.* ${keys.old}`, `@cert-authority 10.0.0.1 ${keys.ec}`, `10.0.0.1 ${keys.rsa}`]);
        const found = lookupKnownHosts(file, "10.0.0.1");
        expect(found).toEqual(
            expect.arrayContaining([
                { key: keys.old, marker: "revoked" },
                { key: keys.old, marker: "" },
                { key: keys.ec, marker: "ca" },
                { key: keys.rsa, marker: "" },
            ]),
        );
        expect(pinnableKey(found)).toEqual({ rsaOnly: true });
    });

    it("says what is wrong with a file it cannot read", () => {
        expect(() => lookupKnownHosts(path.join(dir, "missing"), "10.0.0.1")).toThrow(/ENOENT/);
    });
});

describe("the key to pin", () => {
    it("prefers ed25519, then ECDSA; never RSA", () => {
        expect(pinnableKey([{ key: keys.rsa!, marker: "" }, { key: keys.ec!, marker: "" }, { key: keys.ed!, marker: "" }])).toEqual({ key: keys.ed, rsaOnly: false });
        expect(pinnableKey([{ key: keys.rsa!, marker: "" }, { key: keys.ec!, marker: "" }])).toEqual({ key: keys.ec, rsaOnly: false });
        expect(pinnableKey([{ key: keys.rsa!, marker: "" }])).toEqual({ rsaOnly: true });
        expect(pinnableKey([])).toEqual({ rsaOnly: false });
    });

    it("parses ssh-keygen's output with comments and markers", () => {
        expect(parseKeygenFind(`# Host x found: line 4 REVOKED\n@revoked x ${keys.ed}\n# Host x found: line 5 \nx ${keys.ec} comment\n`)).toEqual([
            { key: keys.ed, marker: "revoked" },
            { key: keys.ec, marker: "" },
        ]);
    });
});

describe("resolveHostKeys", () => {
    it("keeps a pinned hostKey, fills the others from ssh.knownHostsFile, leaves unknown hosts unpinned", () => {
        const file = knownHosts("resolve", [`10.0.0.1 ${keys.ec}`, `[10.0.0.2]:2222 ${keys.ed}`], true);
        const { hosts, problems } = resolveHostKeys(
            [host({ hostKey: keys.old }), host({ name: "app2", address: "10.0.0.2", sshPort: 2222 }), host({ name: "app3", address: "10.0.0.3" })],
            ssh({ knownHostsFile: file }),
        );
        expect(problems).toEqual([]);
        expect(hosts.map((h) => h.hostKey)).toEqual([keys.old, keys.ed, undefined]);
    });

    it("expands ~/ in the path", () => {
        expect(expandHome("~/.ssh/known_hosts", "/home/ops")).toBe("/home/ops/.ssh/known_hosts");
        expect(expandHome("/etc/ssh/ssh_known_hosts", "/home/ops")).toBe("/etc/ssh/ssh_known_hosts");
    });

    it("names the key and the fix for a file it cannot read, once", () => {
        const { problems } = resolveHostKeys([host(), host({ name: "app2", address: "10.0.0.2" })], ssh({ knownHostsFile: "/nonexistent/known_hosts" }));
        expect(problems).toHaveLength(1);
        expect(problems[0]).toMatch(/^`docker-overlay:ssh.knownHostsFile` is "\/nonexistent\/known_hosts": it cannot be read \(ENOENT.*\)\. Fix: give the path of a readable known_hosts file, or pin each host's key in `hosts\[\]\.hostKey`$/);
    });

    it("refuses a host known only by an RSA key, with the command that adds its ed25519 key", () => {
        const file = knownHosts("rsaonly", [`10.0.0.1 ${keys.rsa}`]);
        const { problems } = resolveHostKeys([host()], ssh({ knownHostsFile: file }));
        expect(problems).toEqual([expect.stringContaining(`host app1: ${file} knows 10.0.0.1 only by an RSA key, which cannot be pinned`)]);
        expect(problems[0]).toContain(`ssh-keyscan -t ed25519 -p 22 10.0.0.1 >> ${file}`);
    });
});

describe("hosts without a key", () => {
    it("are a config problem without preflight, naming the key and both fixes", () => {
        expect(unpinnedProblems([host({ hostKey: keys.ed }), host({ name: "app2", address: "10.0.0.2", sshPort: 2200 })], ssh())).toEqual([
            "`docker-overlay:hosts[1].hostKey` is nothing and `ssh.knownHostsFile` is not set: host app2's SSH key cannot be checked, and an unchecked host gets the session (and, in swarm mode, the join token). Fix: pin it (`ssh-keyscan -t ed25519 -p 2200 10.0.0.2`, compared with the host's console, prints it), or run preview once with preflight enabled: it shows the key the host presents",
        ]);
        expect(unpinnedProblems([host()], ssh({ insecureAcceptAnyHostKey: true }))).toEqual([]);
    });

    it("are named in a warning on every run when the opt-out is set", () => {
        expect(insecureWarning([host({ hostKey: keys.ed }), host({ name: "app2" })])).toMatch(/^docker-overlay: INSECURE: `ssh.insecureAcceptAnyHostKey` is set, so the SSH host keys of app2 are NOT checked/);
        expect(insecureWarning([host({ hostKey: keys.ed })])).toBeUndefined();
    });

    it("reach the docker provider's ssh as 'any key, remembered nowhere' only then; a pinned key as the only known one", () => {
        const any = sshOptions("/k", "10.0.0.1", 22, undefined);
        expect(any.join(" ")).toContain("-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no");
        const pinned = sshOptions("/k", "10.0.0.1", 2222, keys.ed);
        expect(pinned.join(" ")).toContain("-o StrictHostKeyChecking=yes");
        const file = pinned[pinned.indexOf("-o", pinned.findIndex((o) => o.startsWith("UserKnownHostsFile=")) - 1) + 1]!.split("=")[1]!;
        expect(fs.readFileSync(file, "utf8")).toBe(`[10.0.0.1]:2222 ${keys.ed}\n`);
    });
});
