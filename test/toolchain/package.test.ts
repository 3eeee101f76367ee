// The library as a user gets it: `npm pack` of this repository (its `prepack` builds dist/ from
// the sources, as a fresh clone needs), the tarball installed by npm into a fresh folder beside
// examples/app-on-overlay, and that example's `pulumi preview` through the CLI and the Node.js
// language host, on a local file backend.
//
// No host is contacted, and none is needed: the library runs no preflight (that is the stack
// program's; a library user has none to turn off), remote commands run only in `up`, and on a
// new stack, where every resource is a create, the docker provider has nothing to read and does
// not connect. The hosts are TEST-NET addresses that nothing answers.
//
// What this proves: the tarball holds what `import "docker-overlay"` needs (entry, types, the host
// scripts the commands are rendered from), a program compiles against its types, OverlayCluster
// plans its children next to the program's own container, and a bad setting is refused in the
// stack file's words. What it does not prove: that `up` works (test/e2e runs the same component
// on the lab's hosts), nor a preview of a stack that already has resources (the docker provider
// then reads the hosts' daemons).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../components/config";

const REPO = path.join(__dirname, "..", "..");
const EXAMPLE = path.join(REPO, "examples", "app-on-overlay");
/** An ed25519 key line: a host key must be pinned, though no host answers here. */
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBQU3Xf9df2U7mRix5uE5TIr55H3udLTI7a76JCjg6gt";
const HOSTS = [
    { name: "a", address: "192.0.2.11", hostKey: HOST_KEY },
    { name: "b", address: "192.0.2.12", hostKey: HOST_KEY },
];

let dir: string;
let app: string;
let files: string[];
let env: NodeJS.ProcessEnv;

function run(cmd: string, args: string[], cwd: string, input = "") {
    const r = spawnSync(cmd, args, { cwd, env, encoding: "utf8", input, timeout: 240_000 });
    return { status: r.status, stdout: r.stdout, out: `${r.stdout}\n${r.stderr}` };
}
const pulumi = (args: string[], input?: string) => run("pulumi", [...args, "--non-interactive"], app, input);

function setHosts(hosts: Record<string, string>[]) {
    hosts.forEach((h, i) => {
        for (const [k, v] of Object.entries(h)) expect(pulumi(["config", "set", "--path", `hosts[${i}].${k}`, v]).status).toBe(0);
    });
}

beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "package-"));
    env = { ...process.env, PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`, PULUMI_CONFIG_PASSPHRASE: "package-test", PULUMI_SKIP_UPDATE_CHECK: "true", PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true" };
    fs.mkdirSync(path.join(dir, "state"));

    const pack = run("npm", ["pack", "--pack-destination", dir], REPO);
    expect(pack.status, pack.out).toBe(0);
    const tarball = path.join(dir, pack.stdout.trim().split("\n").at(-1)!);
    files = run("tar", ["-tzf", tarball], dir).stdout.trim().split("\n").map((f) => f.replace(/^package\//, ""));

    // The example with its dependency on this package pointed at the tarball.
    app = path.join(dir, "app");
    fs.cpSync(EXAMPLE, app, { recursive: true, filter: (src) => !/node_modules|Pulumi\.[^/]+\.yaml$/.test(src) });
    const manifest = JSON.parse(fs.readFileSync(path.join(app, "package.json"), "utf8"));
    manifest.dependencies["docker-overlay"] = `file:${tarball}`;
    fs.writeFileSync(path.join(app, "package.json"), JSON.stringify(manifest, null, 2));
    // From npm's cache where it can; --ignore-scripts: @pulumi/command's install script would
    // download its plugin, which the toolchain builds instead.
    const install = run("npm", ["install", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund"], app);
    expect(install.status, install.out).toBe(0);

    expect(pulumi(["stack", "init", "dev"]).status).toBe(0);
    setHosts(HOSTS);
    expect(pulumi(["config", "set", "--secret", "sshPrivateKey"], "not-a-real-key").status).toBe(0);
}, 400_000);

afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("the packed library, installed into a program of its own", () => {
    it("holds the built entry, its types and the host scripts, and no sources or tests", () => {
        const manifest = JSON.parse(fs.readFileSync(path.join(app, "node_modules", "docker-overlay", "package.json"), "utf8"));
        expect(manifest.main).toBe("dist/components/index.js");
        expect(manifest.types).toBe("dist/components/index.d.ts");
        expect(manifest.exports["."]).toEqual({ types: "./dist/components/index.d.ts", default: "./dist/components/index.js" });
        for (const f of [manifest.main, manifest.types, "dist/components/overlayCluster.d.ts", "components/keyHolders.cjs", "components/host-scripts/host-facts.sh", "components/host-scripts/lib/common.sh"])
            expect(files).toContain(f);
        // Every script the sources have, and nothing of the repository besides the build.
        const scripts = fs.readdirSync(path.join(REPO, "components", "host-scripts"), { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".sh"));
        expect(files.filter((f) => f.startsWith("components/host-scripts/")).sort()).toEqual(scripts.map((f) => `components/host-scripts/${f}`).sort());
        expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith(".d.ts"))).toEqual([]);
        expect(files.filter((f) => !/^(dist\/components\/[^/]+\.(js|d\.ts)|components\/(host-scripts\/|keyHolders\.cjs)|package\.json$|README\.md$)/.test(f))).toEqual([]);
    });

    it("previews the example: OverlayCluster and its children planned beside the program's own container", () => {
        const r = pulumi(["preview", "--json"]);
        expect(r.status, r.out).toBe(0);
        const preview = JSON.parse(r.stdout) as { steps: { op: string; urn: string; newState: { type: string; parent?: string; stackTrace?: { sourcePosition?: string }[] } }[] };
        const name = (urn?: string) => urn?.split("::").at(-1);
        const planned = preview.steps.map((s) => `${s.op} ${s.newState.type} ${name(s.urn)} <- ${name(s.newState.parent) ?? ""}`).sort();
        expect(planned).toEqual(
            [
                "create pulumi:pulumi:Stack app-on-overlay-dev <- ",
                "create docker-overlay:cluster:OverlayCluster overlay <- app-on-overlay-dev",
                "create docker:index/container:Container client <- app-on-overlay-dev",
                ...["a", "b"].flatMap((h) => [
                    `create docker-overlay:host:DockerHost overlay-${h} <- overlay`,
                    `create command:remote:Command overlay-${h}-reachable <- overlay-${h}`,
                    `create command:remote:Command overlay-${h}-facts <- overlay-${h}`,
                    `create pulumi:providers:docker overlay-${h}-docker <- overlay-${h}`,
                    `create docker:index/remoteImage:RemoteImage overlay-connectivity-image-${h} <- overlay-connectivity`,
                    `create docker:index/container:Container overlay-connectivity-probe-${h} <- overlay-connectivity`,
                    `create command:remote:Command overlay-connectivity-from-${h} <- overlay-connectivity`,
                ]),
                "create docker-overlay:swarm:Swarm overlay-swarm <- overlay",
                "create command:remote:Command overlay-swarm-init-a <- overlay-swarm",
                "create command:remote:Command overlay-swarm-tokens <- overlay-swarm",
                "create command:remote:Command overlay-swarm-join-b <- overlay-swarm",
                "create docker-overlay:network:OverlayNetwork overlay-net <- overlay",
                "create docker:index/network:Network overlay-net-network <- overlay-net",
                "create docker-overlay:service:Service overlay-svc-api <- overlay",
                "create docker:index/remoteImage:RemoteImage overlay-svc-api-image <- overlay-svc-api",
                "create docker:index/container:Container overlay-svc-api-container <- overlay-svc-api",
                "create docker-overlay:connectivity:ConnectivityCheck overlay-connectivity <- overlay",
            ].sort(),
        );
        // The component came from the installed package's build, not from this repository's sources.
        const hostFrames = preview.steps
            .find((s) => s.newState.type === "docker-overlay:host:DockerHost")!
            .newState.stackTrace!.map((f) => f.sourcePosition)
            .filter((p) => p?.includes("overlayCluster"));
        expect(hostFrames.length).toBeGreaterThan(0);
        for (const p of hostFrames) expect(p).toMatch(/^project:\/\/\/node_modules\/docker-overlay\/dist\/components\/overlayCluster\.js#/);
        expect(r.out).not.toContain("not-a-real-key");
    }, 240_000);

    it("refuses a bad setting before any resource, in the words a stack file gets", () => {
        // A host address inside the overlay's subnet (the example's network is 10.20.0.0/24).
        const bad = [HOSTS[0]!, { ...HOSTS[1]!, address: "10.20.0.5" }];
        setHosts(bad);
        let stackProblems: readonly string[] = [];
        try {
            parseConfig({ mode: "swarm", hosts: bad, network: { name: "app_net", subnet: "10.20.0.0/24" } }, "Pulumi.dev.yaml");
        } catch (e) {
            stackProblems = (e as ConfigError).problems;
        }
        expect(stackProblems).toEqual(['`docker-overlay:hosts[1].address` is "10.20.0.5": the host\'s own address lies inside `network.subnet` 10.20.0.0/24; pick an overlay subnet that no server uses']);

        const r = pulumi(["preview"]);
        expect(r.status).not.toBe(0);
        expect(r.out).toContain('OverlayCluster "overlay" has a problem; nothing was changed on any host:');
        expect(r.out).toContain(`- ${stackProblems[0]}`);
        // Only the message: no stack trace, and no child planned.
        expect(r.out).not.toMatch(/    at |TSError|Unable to compile/);
        expect(r.out).not.toMatch(/\+ +docker-overlay:host:DockerHost/);
        setHosts(HOSTS);
    }, 240_000);
});
