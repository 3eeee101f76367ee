// End-to-end smoke test of the offline toolchain (toolchain/install.sh), on a local file
// backend with plugin downloads disabled, everything from the toolchain's bin directory:
// - "CLI and language host": up of a program without resources (engine-program/);
// - "provider plugins": preview -> up -> preview (no changes) -> destroy of a tiny program
//   (smoke-program/) with one resource from each of the three provider plugins.
// Targets are local only: this machine's shell, a dockerd that this test starts in a network
// namespace of its own (dockerd-netns.sh), and the toolchain's Consul server on 127.0.0.1
// (realConsul.ts).
//
// Run as root, after the toolchain is installed:
//   source toolchain/env.sh && npx vitest run test/toolchain
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LocalWorkspace, type EngineEvent, type Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consulBinary, startConsul, type RealConsul } from "./realConsul";

const REPO = path.join(__dirname, "..", "..");
const PROGRAM = path.join(__dirname, "smoke-program");
const ENGINE_PROGRAM = path.join(__dirname, "engine-program");
const DOCKERD = path.join(__dirname, "dockerd-netns.sh");
const PKG = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
};
const PLUGINS = [
    { name: "command", version: PKG.dependencies["@pulumi/command"] },
    { name: "consul", version: PKG.dependencies["@pulumi/consul"] },
    { name: "docker", version: PKG.dependencies["@pulumi/docker"] },
];
const NODE_VERSION = /^NODE_VERSION=(\S+)$/m.exec(
    fs.readFileSync(path.join(REPO, "toolchain", "versions.env"), "utf8"),
)?.[1];
const ENGINE_BINARIES = ["pulumi", "pulumi-language-nodejs"];
const PLUGIN_BINARIES = PLUGINS.map((p) => `pulumi-resource-${p.name}`);
const WORKSPACE_ENV = {
    PULUMI_CONFIG_PASSPHRASE: "toolchain-smoke",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
};

const TOOLCHAIN_BIN = process.env.DOCKER_OVERLAY_TOOLCHAIN_BIN ?? "";
const marker = `m${process.pid}${Date.now().toString(36)}`;
const netns = `dotc-smoke-${process.pid}`;

let tmp = "";
let pulumiHome = "";
let engineStack: Stack | undefined;
let dockerDir = "";
let dockerHost = "";
let dockerStarted = false;
let consul: RealConsul | undefined;
let stack: Stack | undefined;
let destroyed = false;
let upLog = "";
let upSucceeded = false;

/** Full path of NAME on PATH, or "" . */
function which(name: string): string {
    const r = spawnSync("bash", ["-c", 'command -v -- "$1"', "which", name], { encoding: "utf8" });
    return r.status === 0 ? r.stdout.trim() : "";
}

/** Throws, naming the way out, unless every one of NAMES is the toolchain's (first on PATH). */
function requireToolchain(names: string[]): void {
    if (!TOOLCHAIN_BIN) {
        throw new Error("DOCKER_OVERLAY_TOOLCHAIN_BIN is not set: run `source toolchain/env.sh` first");
    }
    const notOurs = names.filter((b) => which(b) !== path.join(TOOLCHAIN_BIN, b));
    if (notOurs.length > 0) {
        throw new Error(
            `not found in ${TOOLCHAIN_BIN} (first on PATH): ${notOurs.join(", ")}; run \`npm run toolchain\``,
        );
    }
}

/** A copy of PROGRAM outside the clone (the stack file is written next to it) that finds the
 * project's packages through a node_modules link; returns a new stack "smoke" of it. */
async function newStack(program: string, name: string): Promise<Stack> {
    const workDir = path.join(tmp, name);
    fs.cpSync(program, workDir, { recursive: true });
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(workDir, "node_modules"));
    return LocalWorkspace.createStack({ stackName: "smoke", workDir }, { pulumiHome, envVars: WORKSPACE_ENV });
}

function pulumiCli(args: string[]): string {
    return execFileSync("pulumi", args, {
        encoding: "utf8",
        env: { ...process.env, PULUMI_HOME: pulumiHome },
        stdio: ["ignore", "pipe", "pipe"],
    }).trim();
}

function docker(args: string[]): { status: number | null; stdout: string } {
    const r = spawnSync("docker", ["-H", dockerHost, ...args], { encoding: "utf8" });
    return { status: r.status, stdout: r.stdout.trim() };
}

/** The plugins of KIND the engine resolved to a binary on PATH, as "name path", from its log at
 * verbosity 6 (a JSON line whose message is
 * "GetPluginPath(resource, docker, 5.2.0, ): found on $PATH /…/pulumi-resource-docker"). */
function pluginsFoundOnPath(engineLog: string, kind: string): string[] {
    const found = new Set<string>();
    for (const m of engineLog.matchAll(/GetPluginPath\((\w+), ([\w-]+), [^)]*\): found on \$PATH ([^\s"\\]+)/g)) {
        if (m[1] === kind) {
            found.add(`${m[2]} ${m[3]}`);
        }
    }
    return [...found].sort();
}

/** Options that make the engine log where it found each plugin (see pluginsFoundOnPath). */
const PLUGIN_LOG = { logVerbosity: 6, logToStdErr: true } as const;

/** [type, name] of every resource an operation touched with OP, default providers left out. */
function resourcesWithOp(events: EngineEvent[], op: string): string[][] {
    return events
        .flatMap((e) => (e.resourcePreEvent ? [e.resourcePreEvent.metadata] : []))
        .filter((m) => m.op === op)
        .map((m) => [m.type, m.urn.split("::").pop() ?? ""])
        .filter(([type, name]) => !(type.startsWith("pulumi:providers:") && name.startsWith("default")))
        .sort((a, b) => a.join().localeCompare(b.join()));
}

const PROGRAM_RESOURCES = [
    ["command:local:Command", "smoke-echo"],
    ["consul:index/keys:Keys", "smoke-keys"],
    ["docker:index/network:Network", "smoke-network"],
    ["pulumi:providers:consul", "smoke-consul"],
    ["pulumi:providers:docker", "smoke-docker"],
    ["pulumi:pulumi:Stack", "toolchain-smoke-smoke"],
];

beforeAll(() => {
    // Fail with the way out, not with an obscure engine error, when the toolchain is absent.
    requireToolchain(ENGINE_BINARIES);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dotc-smoke-"));
    pulumiHome = path.join(tmp, "pulumi-home");
    fs.mkdirSync(pulumiHome);
    const state = path.join(tmp, "state");
    fs.mkdirSync(state);
    pulumiCli(["login", `file://${state}`]);
});

afterAll(() => {
    if (tmp) {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
});

describe("CLI and language host", () => {
    beforeAll(async () => {
        engineStack = await newStack(ENGINE_PROGRAM, "engine-program");
        await engineStack.setConfig("marker", { value: marker });
    }, 120_000);

    afterAll(async () => {
        await engineStack?.workspace.removeStack("smoke", { force: true });
    }, 120_000);

    it("runs the CLI built for @pulumi/pulumi in package.json", () => {
        expect(pulumiCli(["version"])).toBe(`v${PKG.dependencies["@pulumi/pulumi"]}`);
        expect(which("pulumi")).toBe(path.join(TOOLCHAIN_BIN, "pulumi"));
    });

    it("runs a TypeScript program on the toolchain's Node.js", async () => {
        const result = await engineStack!.up({ color: "never", ...PLUGIN_LOG });
        expect(result.summary.result).toBe("succeeded");
        expect(result.outputs.echo?.value).toBe(`ran:${marker}`);
        // The engine ran the toolchain's language host, found on PATH.
        expect(pluginsFoundOnPath(result.stderr, "language")).toEqual([
            `nodejs ${path.join(TOOLCHAIN_BIN, "pulumi-language-nodejs")}`,
        ]);
        expect(result.outputs.nodeMajor?.value).toBe(Number(NODE_VERSION?.split(".")[0]));
        const deployment = (await engineStack!.exportStack()).deployment as { manifest: { version: string } };
        expect(deployment.manifest.version).toBe(`v${PKG.dependencies["@pulumi/pulumi"]}`);
    }, 300_000);
});

describe("provider plugins", () => {
    beforeAll(async () => {
        requireToolchain(PLUGIN_BINARIES);
        consul = await startConsul(consulBinary(REPO), path.join(tmp, "consul"));
        dockerDir = path.join(tmp, "docker");
        dockerHost = execFileSync("bash", [DOCKERD, "start", dockerDir, netns], { encoding: "utf8" }).trim();
        dockerStarted = true;
        stack = await newStack(PROGRAM, "smoke-program");
        await stack.setAllConfig({
            marker: { value: marker },
            dockerHost: { value: dockerHost },
            consulAddress: { value: consul.address },
        });
    }, 300_000);

    afterAll(async () => {
        try {
            if (stack && !destroyed) {
                await stack.destroy({ color: "never" });
            }
        } finally {
            if (dockerStarted) {
                execFileSync("bash", [DOCKERD, "stop", dockerDir, netns], { stdio: "inherit" });
            }
            await consul?.stop();
        }
    }, 300_000);

    it("previews exactly the program's resources", async () => {
        const events: EngineEvent[] = [];
        const result = await stack!.preview({ color: "never", onEvent: (e) => events.push(e) });
        expect(resourcesWithOp(events, "create")).toEqual(PROGRAM_RESOURCES);
        expect(result.changeSummary.update ?? 0).toBe(0);
        expect(result.changeSummary.delete ?? 0).toBe(0);
    }, 600_000);

    it("creates one resource per provider on the local targets", async () => {
        const result = await stack!.up({ color: "never", ...PLUGIN_LOG });
        upLog = result.stderr;
        expect(result.summary.result).toBe("succeeded");
        upSucceeded = true;
        const out = Object.fromEntries(Object.entries(result.outputs).map(([k, v]) => [k, v.value]));
        expect(out.commandStdout).toBe(marker);
        expect(out.networkName).toBe(`smoke-${marker}`);
        // The network exists on the test's own dockerd, with the id Pulumi recorded.
        expect(docker(["network", "inspect", "--format", "{{.Id}}", `smoke-${marker}`]).stdout).toBe(out.networkId);
        // The Consul provider wrote the key into the test's Consul server.
        expect(out.consulKeyPath).toBe(`docker-overlay/smoke/${marker}`);
        expect(await consul!.kvUnder("docker-overlay/smoke/")).toEqual([[`docker-overlay/smoke/${marker}`, marker]]);
    }, 600_000);

    it("used the toolchain's binaries and downloaded no plugin", async () => {
        // The engine resolved every provider plugin to the toolchain's binary on PATH (the
        // state's manifest no longer records plugin paths, so the engine's log is the witness).
        expect(pluginsFoundOnPath(upLog, "resource")).toEqual(
            PLUGINS.map((p) => `${p.name} ${path.join(TOOLCHAIN_BIN, `pulumi-resource-${p.name}`)}`),
        );
        const deployment = (await stack!.exportStack()).deployment as {
            resources: { type: string; urn: string; inputs?: Record<string, unknown> }[];
        };
        // The providers in the state were asked for the versions package.json pins.
        const providerVersions = deployment.resources
            .filter((r) => r.type.startsWith("pulumi:providers:"))
            .map((r) => [r.type.slice("pulumi:providers:".length), r.inputs?.version])
            .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
        expect(providerVersions).toEqual(PLUGINS.map((p) => [p.name, p.version]));
        // Nothing was installed into PULUMI_HOME: acquisition is off and the plugins are ambient.
        const installed = JSON.parse(pulumiCli(["plugin", "ls", "--json"]) || "[]") as unknown[];
        expect(installed).toEqual([]);
    }, 120_000);

    it("finds nothing to change on a second preview", async () => {
        const result = await stack!.preview({ color: "never" });
        const changes = Object.entries(result.changeSummary).filter(([op, n]) => op !== "same" && n > 0);
        expect(changes).toEqual([]);
    }, 600_000);

    it("destroys what it created", async () => {
        // Only meaningful after a successful up: otherwise "gone" would prove nothing.
        expect(upSucceeded).toBe(true);
        const result = await stack!.destroy({ color: "never" });
        destroyed = true;
        expect(result.summary.result).toBe("succeeded");
        expect(docker(["network", "inspect", `smoke-${marker}`]).status).not.toBe(0);
        expect(await consul!.kvUnder("docker-overlay/smoke/")).toEqual([]);
    }, 600_000);
});
