/**
 * The real docker CLIs on this machine (no daemon) against a fake Engine 20.10 API on a unix
 * socket: proves how the scripts read the daemon's cluster store with an old and a new client.
 * Docker CLI 23+ dropped ClusterStore from its Info struct, so `docker info --format
 * '{{.ClusterStore}}'` is a template error and `{{json .}}` silently loses the field even when
 * the daemon sends it; `docker system dial-stdio` relays the daemon's raw reply with any client.
 */
import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runRendered } from "./harness";
import { parseHostFacts, summarize } from "../../components/hostFacts";

const CANDIDATES = ["/usr/local/bin/docker", "/usr/bin/docker"];
const clis = CANDIDATES.filter((c) => fs.existsSync(c)).map((c) => {
    const version = spawnSync(c, ["--version"], { encoding: "utf8" }).stdout.match(/Docker version (\d+)\./);
    return { path: c, major: version ? Number(version[1]) : NaN };
});

const STORE = "etcd://10.210.0.11:2379";
const INFO = {
    ID: "ABCD:EFGH:IJKL",
    Name: "lab1",
    ServerVersion: "20.10.24",
    ClusterStore: STORE,
    ClusterAdvertise: "10.210.0.12:2376",
    Swarm: { NodeID: "", LocalNodeState: "inactive", ControlAvailable: false, RemoteManagers: null },
};

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "docker-overlay-api-"));
const socket = path.join(dir, "docker.sock");
const seen: string[] = [];
const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.setHeader("Api-Version", "1.41");
    res.setHeader("Content-Type", "application/json");
    res.setHeader("Server", "Docker/20.10.24 (linux)");
    const url = (req.url ?? "").replace(/^\/v[0-9.]+/, "");
    if (url === "/_ping") return void res.end("OK");
    if (url === "/version") return void res.end(JSON.stringify({ Version: "20.10.24", ApiVersion: "1.41", MinAPIVersion: "1.12", Os: "linux", Arch: "amd64" }));
    if (url === "/info") return void res.end(JSON.stringify(INFO));
    res.statusCode = 404;
    res.end('{"message":"page not found"}');
});

beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(socket, resolve));
});
afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(dir, { recursive: true, force: true });
});

function env(): NodeJS.ProcessEnv {
    return { PATH: process.env.PATH, HOME: dir, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: path.join(dir, "client-config") };
}

function docker(cli: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) =>
        execFile(cli, args, { env: env(), encoding: "utf8", timeout: 15_000 }, (error, stdout, stderr) =>
            resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
        ),
    );
}

describe("reading ClusterStore from a 20.10 daemon with the docker CLIs on this machine", () => {
    it("this machine has a docker CLI to check with", () => {
        expect(clis.length, `none of ${CANDIDATES.join(", ")} exists`).toBeGreaterThan(0);
    });

    it.each(clis.map((c) => [`${c.path} (major ${c.major})`, c]))("%s: host-facts reports the daemon's cluster store", async (_label, cli) => {
        const r = await runRendered("host-facts", { DOCKER: cli.path, PEERS: ["127.0.0.1"], STRICT: 1, HOST_LABEL: "lab1" }, env());
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(summarize(parseHostFacts(r.stdout), "127.0.0.1")).toMatchObject({ engineVersion: "20.10.24", clusterStore: STORE, engineId: INFO.ID, daemonName: "lab1" });
        expect(seen).toContain("GET /info"); // the raw, unversioned request sent through dial-stdio
    });

    it.each(clis.map((c) => [`${c.path} (major ${c.major})`, c]))("%s: what `docker info --format` shows", async (_label, cli) => {
        const field = await docker(cli.path, ["info", "--format", "{{.ClusterStore}}"]);
        const json = await docker(cli.path, ["info", "--format", "{{json .}}"]);
        expect(json.code).toBe(0);
        if (cli.major >= 23) {
            expect(field.code).not.toBe(0);
            expect(field.stderr).toContain("can't evaluate field ClusterStore");
            expect(json.stdout).not.toContain('"ClusterStore"');
        } else {
            expect(field).toMatchObject({ code: 0, stdout: `${STORE}\n` });
            expect(json.stdout).toContain(`"ClusterStore":"${STORE}"`);
        }
    });
});
