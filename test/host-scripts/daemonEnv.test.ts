// kv.acl on the hosts, with the real scripts run by bash: daemon-env.sh writes and removes dockerd's
// environment file (and, with systemd, the drop-in that names it), and kv-wait sends the token
// only in its requests. Whether dockerd really takes the token, and that no process on a real
// host has it in its arguments, is proven on the lab (test/e2e/consul-acl.test.ts).
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeHost, runRendered, runStandalone } from "./harness";

const TOKEN = "5f1c3a5e-7a0b-4c5e-9d47-0c8e2b1f6a90";
const CONTENT = `CONSUL_HTTP_TOKEN=${TOKEN}\n`;

let host: FakeHost;
let dropInDir: string;
let systemctlLog: string;
beforeEach(() => {
    host = new FakeHost();
    dropInDir = path.join(host.root, "systemd", "docker.service.d");
    // A systemctl that records what it was asked.
    systemctlLog = path.join(host.root, "systemctl.log");
    const bin = path.join(host.root, "bin");
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, "systemctl"), `#!/bin/sh\necho "$*" >>'${systemctlLog}'\n`, { mode: 0o755 });
});
afterEach(() => host.cleanup());

const envFile = () => path.join(host.configDir, "docker-overlay.env");
const dropIn = () => path.join(dropInDir, "docker-overlay-env.conf");
const env = () => ({ ...host.fakeEnv(), PATH: `${path.join(host.root, "bin")}:${host.fakeEnv().PATH}` });
const vars = (systemd: boolean) => ({ ...host.commonVars(), OWNER: "docker-overlay/dev", SYSTEMD_DROPIN_DIR: dropInDir, SYSTEMD_RUNNING: String(systemd) });
const reloads = () => (fs.existsSync(systemctlLog) ? fs.readFileSync(systemctlLog, "utf8").split("\n").filter((l) => l === "daemon-reload").length : 0);

describe("daemon-env", () => {
    it("without systemd: writes the file, mode 0600, and says that whatever starts dockerd must read it; never prints the token", async () => {
        const r = await runRendered("daemon-env", { ...vars(false), ACTION: "write", ENV_CONTENT: CONTENT }, env());
        expect(r.code, r.stderr).toBe(0);
        expect(fs.readFileSync(envFile(), "utf8")).toBe(CONTENT);
        expect(fs.statSync(envFile()).mode & 0o777).toBe(0o600);
        expect(fs.existsSync(dropIn())).toBe(false);
        expect(reloads()).toBe(0);
        expect(r.stderr).toContain("no systemd here: whatever starts dockerd must read it");
        expect(r.stdout + r.stderr).not.toContain(TOKEN);
    });

    it("with systemd: a drop-in naming the file (not the token), one daemon-reload; a second write changes nothing", async () => {
        for (let i = 0; i < 2; i++) {
            const r = await runRendered("daemon-env", { ...vars(true), ACTION: "write", ENV_CONTENT: CONTENT }, env());
            expect(r.code, r.stderr).toBe(0);
            expect(r.stdout + r.stderr).not.toContain(TOKEN);
        }
        const unit = fs.readFileSync(dropIn(), "utf8");
        expect(unit).toBe(`# docker-overlay (kv.acl): what Docker's Consul store takes from the environment\n[Service]\nEnvironmentFile=${envFile()}\n`);
        expect(unit).not.toContain(TOKEN);
        expect(reloads()).toBe(1);
    });

    it("remove: takes out the file and the drop-in (daemon-reload), and the host's record once nothing else of ours is left", async () => {
        expect((await runRendered("daemon-env", { ...vars(true), ACTION: "write", ENV_CONTENT: CONTENT }, env())).code).toBe(0);
        expect(fs.readFileSync(path.join(host.stateDir, "owner"), "utf8")).toBe("docker-overlay/dev\n");
        const r = await runRendered("daemon-env", { ...vars(true), ACTION: "remove" }, env());
        expect(r.code, r.stderr).toBe(0);
        expect(fs.existsSync(envFile())).toBe(false);
        expect(fs.existsSync(dropIn())).toBe(false);
        expect(fs.existsSync(dropInDir)).toBe(false);
        expect(reloads()).toBe(2);
        expect(fs.existsSync(host.stateDir)).toBe(false);
        // Again: nothing to do, no error.
        expect((await runRendered("daemon-env", { ...vars(true), ACTION: "remove" }, env())).code).toBe(0);
    });

    it("another stack's host is refused before anything is written", async () => {
        fs.mkdirSync(host.stateDir, { recursive: true });
        fs.writeFileSync(path.join(host.stateDir, "owner"), "docker-overlay/prod\n");
        const r = await runRendered("daemon-env", { ...vars(false), ACTION: "write", ENV_CONTENT: CONTENT }, env());
        expect(r.code).toBe(6);
        expect(fs.existsSync(envFile())).toBe(false);
    });

    describe("kv.tls files", () => {
        // Stand-ins: the script only stores them (whether Docker takes them is the lab's: test/e2e/consul-tls.test.ts).
        const TLS = { TLS_CA: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----", TLS_CERT: "-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----\n", TLS_KEY: "-----BEGIN PRIVATE KEY-----\nSECRETKEYBODY\n-----END PRIVATE KEY-----" };
        const tlsDir = () => path.join(host.configDir, "docker-overlay-tls");

        it("writes ca.pem, cert.pem and key.pem (directory 0700, files 0600, one newline at the end), never printing the key; no env file without ENV_CONTENT", async () => {
            const r = await runRendered("daemon-env", { ...vars(true), ACTION: "write", ...TLS }, env());
            expect(r.code, r.stderr).toBe(0);
            expect(fs.statSync(tlsDir()).mode & 0o777).toBe(0o700);
            expect(fs.readFileSync(path.join(tlsDir(), "ca.pem"), "utf8")).toBe(TLS.TLS_CA + "\n");
            expect(fs.readFileSync(path.join(tlsDir(), "cert.pem"), "utf8")).toBe(TLS.TLS_CERT);
            expect(fs.readFileSync(path.join(tlsDir(), "key.pem"), "utf8")).toBe(TLS.TLS_KEY + "\n");
            for (const f of ["ca.pem", "cert.pem", "key.pem"]) expect(fs.statSync(path.join(tlsDir(), f)).mode & 0o777).toBe(0o600);
            expect(r.stdout + r.stderr).not.toContain("SECRETKEYBODY");
            expect(fs.existsSync(envFile())).toBe(false);
            expect(fs.existsSync(dropIn())).toBe(false);
            // Nothing left beside them (the temporary directory was swapped in).
            expect(fs.readdirSync(host.configDir).filter((f) => f.includes("docker-overlay"))).toEqual(["docker-overlay-tls"]);
        });

        it("a second write replaces all three; with the env file too; remove takes out everything and the owner record", async () => {
            expect((await runRendered("daemon-env", { ...vars(true), ACTION: "write", ...TLS }, env())).code).toBe(0);
            const r = await runRendered("daemon-env", { ...vars(true), ACTION: "write", ENV_CONTENT: CONTENT, ...TLS, TLS_KEY: TLS.TLS_KEY.replace("SECRETKEYBODY", "NEWKEY") }, env());
            expect(r.code, r.stderr).toBe(0);
            expect(fs.readFileSync(path.join(tlsDir(), "key.pem"), "utf8")).toContain("NEWKEY");
            expect(fs.readFileSync(envFile(), "utf8")).toBe(CONTENT);
            expect(fs.readdirSync(host.configDir).filter((f) => f.includes("docker-overlay")).sort()).toEqual(["docker-overlay-tls", "docker-overlay.env"]);
            const rm = await runRendered("daemon-env", { ...vars(true), ACTION: "remove" }, env());
            expect(rm.code, rm.stderr).toBe(0);
            expect(fs.existsSync(tlsDir())).toBe(false);
            expect(fs.existsSync(envFile())).toBe(false);
            expect(fs.existsSync(host.stateDir)).toBe(false);
        });

        it("a write without TLS removes the files an earlier one left; the three go together", async () => {
            expect((await runRendered("daemon-env", { ...vars(false), ACTION: "write", ...TLS }, env())).code).toBe(0);
            expect((await runRendered("daemon-env", { ...vars(false), ACTION: "write", ENV_CONTENT: CONTENT }, env())).code).toBe(0);
            expect(fs.existsSync(tlsDir())).toBe(false);
            const partial = await runRendered("daemon-env", { ...vars(false), ACTION: "write", TLS_CA: TLS.TLS_CA, TLS_CERT: TLS.TLS_CERT }, env());
            expect(partial.code).toBe(5);
            expect(partial.stderr).toContain("TLS_CA, TLS_CERT and TLS_KEY go together");
        });
    });

    it("refuses a missing ENV_CONTENT or ACTION", async () => {
        expect((await runRendered("daemon-env", { ...vars(false), ACTION: "write" }, env())).code).toBe(5);
        expect((await runRendered("daemon-env", { ...vars(false), ACTION: "keep" }, env())).code).toBe(5);
    });
});

describe("kv-wait with CONSUL_TOKEN", () => {
    /** A Consul stand-in on 127.0.0.1: a leader, one member; it holds every request. */
    async function consul(answer = true) {
        const requests: string[] = [];
        const srv = net.createServer((socket) => {
            let data = "";
            socket.on("data", (chunk) => {
                data += chunk.toString("latin1");
                if (!data.includes("\r\n\r\n")) return;
                requests.push(data);
                if (!answer) return;
                const body = data.startsWith("GET /v1/status/leader ") ? '"10.0.0.1:8300"' : '[{"Status":1}]';
                socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
            });
            socket.on("error", () => undefined);
        });
        await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
        const close = () => new Promise<void>((resolve) => { srv.close(() => resolve()); (srv as unknown as { closeAllConnections?: () => void }).closeAllConnections?.(); });
        return { port: (srv.address() as net.AddressInfo).port, requests, close };
    }
    const wait = (port: number, extra: Record<string, string>) =>
        runStandalone("kv-wait", { BACKEND: "consul", KV_ADDRESS: "127.0.0.1", KV_PORT: String(port), HOST_LABEL: "lab1", TIMEOUT_SECONDS: "3", POLL_SECONDS: "0.2", EXPECT_MEMBERS: "1", ...extra }, host.fakeEnv());

    it("sends X-Consul-Token on every request when given, and nothing of the kind without it", async () => {
        const s = await consul();
        try {
            expect((await wait(s.port, { CONSUL_TOKEN: TOKEN })).code).toBe(0);
            expect(s.requests.map((q) => q.split("\r\n")[0])).toEqual(["GET /v1/status/leader HTTP/1.0", "GET /v1/agent/members HTTP/1.0"]);
            for (const q of s.requests) expect(q).toContain(`\r\nX-Consul-Token: ${TOKEN}\r\n`);
            s.requests.length = 0;
            expect((await wait(s.port, {})).code).toBe(0);
            for (const q of s.requests) expect(q).not.toMatch(/X-Consul-Token/i);
        } finally {
            await s.close();
        }
    });

    it("the token is in no process's arguments while it waits", async () => {
        const s = await consul(false);
        try {
            const running = wait(s.port, { CONSUL_TOKEN: TOKEN, TIMEOUT_SECONDS: "2" });
            const seen: string[] = [];
            const until = Date.now() + 1500;
            while (Date.now() < until) {
                for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
                    try {
                        const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
                        if (argv.includes("kv-wait") || argv.includes("docker-overlay-kv-wait")) seen.push(argv.replace(/\0/g, " "));
                        expect(argv.includes(TOKEN), `pid ${pid}: ${argv.replace(/\0/g, " ")}`).toBe(false);
                    } catch (e) {
                        if ((e as NodeJS.ErrnoException).code !== "ENOENT" && (e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
                    }
                }
                await new Promise((r) => setTimeout(r, 50));
            }
            // The scan did see the script and its connection helper running.
            expect(seen.some((a) => a.includes("docker-overlay-kv-wait"))).toBe(true);
            expect((await running).code).toBe(1);
        } finally {
            await s.close();
        }
    });
});
