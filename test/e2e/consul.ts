// The seed's Consul, for real: the stack's Consul server on lab1 as the registry the gateway asks,
// and the @pulumi/consul resources (record, node, services) against it. Registered by the flows
// whose stack runs Consul (kv mode on Consul, swarm mode with Consul as the registry) through
// overlayFlow's `extra`. Traffic goes only to the lab's own hosts.
import { expect, it } from "vitest";
import type { FlowContext } from "./flow";
import { changes, docker, httpGet, phase } from "./harness";

/** Consul's HTTP API on the lab's Consul server (lab1, port 8500). */
export async function consulApi(ctx: FlowContext, apiPath: string, init: { method?: string; body?: string } = {}): Promise<{ status: number; text: string; json: () => unknown }> {
    const res = await fetch(`http://${ctx.lab.hosts[0]!.address}:8500${apiPath}`, { method: init.method ?? "GET", ...(init.body !== undefined ? { body: init.body } : {}), signal: AbortSignal.timeout(30_000) });
    const text = (await res.text()).trim();
    return { status: res.status, text, json: () => JSON.parse(text) as unknown };
}

/** The KV pairs under PREFIX, values decoded ({} when there are none). */
export async function consulKeys(ctx: FlowContext, prefix: string): Promise<Record<string, string>> {
    const r = await consulApi(ctx, `/v1/kv/${prefix}?recurse=true`);
    if (r.status === 404) return {};
    expect(r.status, r.text).toBe(200);
    const pairs = r.json() as { Key: string; Value: string | null }[];
    return Object.fromEntries(pairs.map((p) => [p.Key, p.Value === null ? "" : Buffer.from(p.Value, "base64").toString("utf8")]));
}

interface CatalogEntry {
    Node: string;
    ServiceID: string;
    ServiceAddress: string;
    ServicePort: number;
    ServiceTags: string[];
}
export async function catalogService(ctx: FlowContext, name: string): Promise<CatalogEntry[]> {
    const r = await consulApi(ctx, `/v1/catalog/service/${name}`);
    expect(r.status, r.text).toBe(200);
    return r.json() as CatalogEntry[];
}

/** The URNs of the stack's resources of TYPE. */
async function urnsOf(ctx: FlowContext, ...types: string[]): Promise<string[]> {
    const state = await ctx.stack.exportStack();
    const resources = (state.deployment as { resources?: { urn: string; type: string }[] }).resources ?? [];
    return resources.filter((r) => types.includes(r.type)).map((r) => r.urn);
}

/**
 * The seed's gateway scenario and the Consul resources, against the lab's real Consul.
 * `mode` is the flow's ("kv" or "swarm"), as the stack's record says it.
 */
export function consulRegistryTests(ctx: FlowContext, mode: "kv" | "swarm"): void {
    const prefix = () => `docker-overlay/${ctx.stackName}/`;

    it("services are registered in Consul with their overlay address and port", async () => {
        for (const name of ["service-a", "service-b"]) {
            const entries = await catalogService(ctx, name);
            expect(entries, name).toHaveLength(1);
            expect(entries[0]).toMatchObject({ ServiceAddress: ctx.addresses[name], ServicePort: 80, ServiceTags: ["docker-overlay"] });
        }
    });

    it("the gateway on lab1 asks Consul for service a and gets HTTP 200 from the address Consul returns (on lab2); the bridge address a registry would hold without the overlay is unreachable from lab1", async () => {
        const lab = ctx.lab;
        const [lab1, lab2] = [lab.hosts[0]!, lab.hosts[1]!];
        // What the seed's gateway does: look the service up in the registry, call what it says.
        const lookup =
            `set -e; r=$(wget -qO- http://${lab1.address}:8500/v1/catalog/service/service-a); ` +
            `a=$(echo "$r" | sed -n 's/.*"ServiceAddress":"\\([^"]*\\)".*/\\1/p'); p=$(echo "$r" | sed -n 's/.*"ServicePort":\\([0-9]*\\).*/\\1/p'); ` +
            `echo "consul: $a:$p" >&2; timeout 5 wget -S -O - "http://$a:$p/etc/hostname"; exit $?`;
        const viaConsul = docker(lab1, ["exec", "gateway", "sh", "-c", lookup]);
        expect(viaConsul.status, viaConsul.stderr).toBe(0);
        expect(viaConsul.stderr).toContain(`consul: ${ctx.addresses["service-a"]}:80`);
        expect(viaConsul.stderr).toContain("200 OK");
        // ... and the answer came from service a's container itself (its hostname).
        expect(viaConsul.stdout).toBe(docker(lab2, ["inspect", "service-a", "--format", "{{.Config.Hostname}}"]).stdout);

        // The seed's problem: the same service on lab2's bridge. Its address works on lab2 ...
        docker(lab2, ["rm", "-f", "bridge-a"]);
        const started = docker(lab2, ["run", "-d", "--name", "bridge-a", "--network", "bridge", lab.images.busybox, "httpd", "-f", "-p", "80", "-h", "/"]);
        expect(started.status, started.stderr).toBe(0);
        try {
            const bridgeAddress = docker(lab2, ["inspect", "bridge-a", "--format", "{{.NetworkSettings.IPAddress}}"]).stdout;
            expect(bridgeAddress).toMatch(/^172\.\d+\.\d+\.\d+$/);
            const onItsHost = docker(lab2, ["run", "--rm", "--network", "bridge", lab.images.busybox, ...httpGet(`http://${bridgeAddress}/etc/hostname`)]);
            expect(onItsHost.status, `GET from lab2's own bridge: ${onItsHost.stderr}`).toBe(0);
            expect(onItsHost.stderr).toContain("200 OK");
            // ... and not from the gateway's host.
            const fromGateway = docker(lab1, ["exec", "gateway", ...httpGet(`http://${bridgeAddress}/etc/hostname`, 3)]);
            expect(fromGateway.status, `GET ${bridgeAddress} from the gateway on lab1 should fail`).not.toBe(0);
            expect(fromGateway.stderr).not.toContain("200 OK");
        } finally {
            docker(lab2, ["rm", "-f", "bridge-a"]);
        }
    });

    it("Consul's API answers on lab1's underlay address and not on its other interfaces (docker_gwbridge's address, from the gateway container)", () => {
        const lab1 = ctx.lab.hosts[0]!;
        // Another address of lab1 itself: the gateway of docker_gwbridge, the bridge that gives
        // overlay containers their way out. With -client=0.0.0.0, Consul answered there too.
        const gwbridge = docker(lab1, ["network", "inspect", "docker_gwbridge", "--format", "{{(index .IPAM.Config 0).Gateway}}"]);
        expect(gwbridge.status, gwbridge.stderr).toBe(0);
        expect(gwbridge.stdout).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
        const probe = (address: string) => docker(lab1, ["exec", "gateway", "wget", "-q", "-O", "-", `http://${address}:8500/v1/status/leader`]);
        const underlay = probe(lab1.address);
        expect(underlay.status, underlay.stderr).toBe(0);
        expect(underlay.stdout).toMatch(/^"[\d.]+:8300"$/);
        const other = probe(gwbridge.stdout);
        expect(other.status, `Consul answered at ${gwbridge.stdout}: ${other.stdout}`).not.toBe(0);
        expect(other.stderr).toMatch(/refused/i);
    });

    it("the stack's record is in Consul under its key prefix and reads back as written", async () => {
        const keys = await consulKeys(ctx, prefix());
        expect(Object.keys(keys).sort()).toEqual([`${prefix()}hosts`, `${prefix()}mode`, `${prefix()}network`]);
        expect(keys[`${prefix()}mode`]).toBe(mode);
        expect((JSON.parse(keys[`${prefix()}hosts`]!) as { name: string }[]).map((h) => h.name)).toEqual(["lab1", "lab2", "lab3"]);
        expect(JSON.parse(keys[`${prefix()}network`]!)).toMatchObject({ name: "lab_overlay", subnet: "10.220.0.0/24" });
    });

    it("a key of the record changed by hand is seen by refresh and put back by up", async () => {
        const key = `${prefix()}mode`;
        expect((await consulApi(ctx, `/v1/kv/${key}`, { method: "PUT", body: "changed-by-hand" })).text).toBe("true");
        const refresh = await phase(`${mode}: refresh after a hand edit`, () => ctx.stack.refresh({ onOutput: (s) => process.stdout.write(s) }));
        expect(changes(refresh.summary.resourceChanges)).toEqual({ update: 1 });
        const up = await ctx.stack.up({ onOutput: (s) => process.stdout.write(s) });
        expect(changes(up.summary.resourceChanges)).toEqual({ update: 1 });
        expect((await consulKeys(ctx, prefix()))[key]).toBe(mode);
        expect(changes((await ctx.stack.preview()).changeSummary)).toEqual({});
    });

    it("a service deregistered by hand is seen by refresh and registered again by up, with its overlay address", async () => {
        const [entry] = await catalogService(ctx, "service-a");
        const dereg = await consulApi(ctx, "/v1/catalog/deregister", { method: "PUT", body: JSON.stringify({ Node: entry!.Node, ServiceID: entry!.ServiceID }) });
        expect(dereg.text).toBe("true");
        expect(await catalogService(ctx, "service-a")).toEqual([]);
        const refresh = await ctx.stack.refresh({ onOutput: (s) => process.stdout.write(s) });
        expect(changes(refresh.summary.resourceChanges)).toEqual({ delete: 1 });
        const up = await ctx.stack.up({ onOutput: (s) => process.stdout.write(s) });
        expect(changes(up.summary.resourceChanges)).toEqual({ create: 1 });
        expect(await catalogService(ctx, "service-a")).toEqual([expect.objectContaining({ ServiceAddress: ctx.addresses["service-a"], ServicePort: 80 })]);
    });

    it("destroying the registrations, the record and the network removes only ours: someone else's key survives, Docker's keys of the network go", async () => {
        const foreign = "someone-else/config";
        expect((await consulApi(ctx, `/v1/kv/${foreign}`, { method: "PUT", body: "keep me" })).text).toBe("true");
        const netId = docker(ctx.lab.hosts[0]!, ["network", "inspect", "lab_overlay", "--format", "{{.Id}}"]).stdout;
        // kv mode: Docker keeps the overlay itself in Consul (swarm mode keeps it in its own Raft store).
        const dockerKeys = () => consulKeys(ctx, `docker/network/v1.0/network/${netId}`);
        if (mode === "kv") expect(Object.keys(await dockerKeys())).not.toEqual([]);
        const targets = await urnsOf(ctx, "consul:index/keyPrefix:KeyPrefix", "consul:index/node:Node", "consul:index/service:Service", "docker:index/network:Network");
        expect(targets).toHaveLength(5);
        await phase(`${mode}: targeted destroy`, () => ctx.stack.destroy({ target: targets, targetDependents: true, onOutput: (s) => process.stdout.write(s) }));
        expect(await consulKeys(ctx, prefix())).toEqual({});
        expect(await catalogService(ctx, "service-a")).toEqual([]);
        expect(await catalogService(ctx, "service-b")).toEqual([]);
        expect(Object.keys(await dockerKeys())).toEqual([]);
        expect(await consulKeys(ctx, foreign)).toEqual({ [foreign]: "keep me" });
    });
}
