// The SSH private key file on the machine that runs Pulumi lives only while a run holds it: the
// real reaper (keyHolders.cjs, spawned detached by privateKeyFile as in a run) against stand-in
// "runs" (sleep processes whose end ends the run). Which process a real run's end is (the
// `pulumi` CLI above the language host) is tested on a made-up process tree; that the CLI path
// leaves no key behind is tested through the CLI in test/toolchain/cli-project.test.ts.
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { privateKeyFile, runOwner } from "../../components/sshFiles";

const running: ChildProcess[] = [];
/** A stand-in for a Pulumi run: a process that lives until killed. */
function run(): ChildProcess {
    const p = spawn("sleep", ["300"], { stdio: "ignore" });
    running.push(p);
    return p;
}
async function end(p: ChildProcess): Promise<void> {
    const exited = new Promise((r) => p.once("exit", r));
    p.kill();
    await exited;
}
afterEach(() => {
    for (const p of running.splice(0)) p.kill();
});

/** Waits up to 5 s for FILE to be gone; true when it is. */
async function goneWithin5s(file: string): Promise<boolean> {
    for (let i = 0; i < 50; i++) {
        if (!fs.existsSync(file)) return true;
        await new Promise((r) => setTimeout(r, 100));
    }
    return false;
}

const key = (tag: string) => `-----BEGIN OPENSSH PRIVATE KEY-----\nkey-file-test-${tag}-${process.pid}-${Date.now()}\n-----END OPENSSH PRIVATE KEY-----`;

describe("the private key file", () => {
    it("is written 0600 in a 0700 directory while its run lives, and removed when the run ends", async () => {
        const a = run();
        const k = key("one");
        const file = privateKeyFile(k, a.pid!);
        expect(fs.readFileSync(file, "utf8")).toBe(`${k}\n`);
        expect(fs.statSync(file).mode & 0o777).toBe(0o600);
        expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
        await new Promise((r) => setTimeout(r, 600));
        expect(fs.existsSync(file)).toBe(true);
        await end(a);
        expect(await goneWithin5s(file)).toBe(true);
        expect(fs.existsSync(`${file}.holders`)).toBe(false);
    });

    it("stays while another run that holds the same key lives, and goes with the last one", async () => {
        const [a, b] = [run(), run()];
        const k = key("two");
        const file = privateKeyFile(k, a.pid!);
        expect(privateKeyFile(k, b.pid!)).toBe(file);
        await end(a);
        await new Promise((r) => setTimeout(r, 1500));
        expect(fs.existsSync(file)).toBe(true);
        await end(b);
        expect(await goneWithin5s(file)).toBe(true);
    });

    it("is written again by a later run after an earlier one removed it", async () => {
        const a = run();
        const k = key("three");
        const file = privateKeyFile(k, a.pid!);
        await end(a);
        expect(await goneWithin5s(file)).toBe(true);
        const b = run();
        expect(privateKeyFile(k, b.pid!)).toBe(file);
        expect(fs.readFileSync(file, "utf8")).toBe(`${k}\n`);
        await end(b);
        expect(await goneWithin5s(file)).toBe(true);
    });
});

describe("the run a program belongs to", () => {
    const tree = (t: Record<number, [number, string]>) => (pid: number) => (t[pid] ? { ppid: t[pid]![0], comm: t[pid]![1] } : undefined);

    it("is the pulumi CLI above the language host when the CLI runs the program", () => {
        // systemd(1) <- bash(100) <- pulumi(200) <- pulumi-language-nodejs(300) <- node(400)
        const parents = tree({ 400: [300, "node"], 300: [200, "pulumi-language-"], 200: [100, "pulumi"], 100: [1, "bash"] });
        expect(runOwner(400, parents)).toBe(200);
    });

    it("is the program's own process under the Automation API (the CLI is its child, not its parent)", () => {
        const parents = tree({ 400: [100, "node"], 100: [1, "bash"] });
        expect(runOwner(400, parents)).toBe(400);
    });

    it("is found on this machine's real /proc for this process", () => {
        expect(runOwner()).toBe(process.pid);
    });
});
