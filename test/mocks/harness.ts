// A recording of the resource graph a config produces, under Pulumi's mocks.
//
// What this proves: which resources are declared, with which names, inputs, parents, providers,
// explicit dependencies and secret markings. What it cannot prove: that the engine honours the
// order at run time, that any command works on a real host, or that packets cross hosts. The
// end-to-end suite (test/e2e) proves those against real Docker daemons.
import * as pulumi from "@pulumi/pulumi";
import type { ClusterSettings } from "../../components/clusterSettings";
import type { OverlayClusterArgs } from "../../components/overlayCluster";
import { scriptFromBundle, type ScriptPhase } from "../../components/hostScripts";

export interface Recorded {
    type: string;
    name: string;
    inputs: Record<string, any>;
    /** The mock provider reference (`urn::id`) for custom resources. */
    provider?: string;
}

export interface Declared {
    type: string;
    name: string;
    parent?: string;
    provider?: string;
    dependsOn: string[];
    additionalSecretOutputs: string[];
    deleteBeforeReplace: boolean;
    /** Declared aliases, as {name, parent}: the identities this resource keeps from older stacks. */
    aliases: unknown[];
    resource: pulumi.Resource;
}

export const FACTS = (host: string, n: number) => ({
    hostname: host,
    engineVersion: "20.10.24",
    interface: "ens33",
    address: `192.168.87.${130 + n}`,
    mtu: 1500,
    swarmState: "inactive",
    engineId: `ID-${host}`,
    clusterStore: "",
    daemonName: host,
});

/** host-facts.sh's line for FACTS(host, n), with a route through its interface to each of PEERS. */
export function factsLine(host: string, n: number, peers: readonly string[]): string {
    const f = FACTS(host, n);
    const info = { ID: f.engineId, Name: f.daemonName, ServerVersion: f.engineVersion, Swarm: { LocalNodeState: f.swarmState, NodeID: "", ControlAvailable: false, RemoteManagers: null } };
    return JSON.stringify({
        hostname: f.hostname,
        dockerInfo: { exit: 0, base64: Buffer.from(JSON.stringify(info)).toString("base64"), stderr: "" },
        interfaces: [{ name: f.interface, mtu: f.mtu, up: true, addresses: [`${f.address}/24`] }],
        routes: peers.map((to) => ({ to, interface: f.interface, source: f.address, error: "" })),
        vxlan: "loaded",
        daemonJson: { present: false },
        unitOptions: [],
        clusterStore: f.clusterStore,
    });
}

/** Plausible outputs for the commands and containers, so that dependent values resolve. */
function stateFor(args: pulumi.runtime.MockResourceArgs): Record<string, any> {
    const { type, name, inputs } = args;
    if (type === "command:remote:Command") {
        const host = name.replace(/^[^-]+-/, "").split("-")[0] ?? "";
        const n = Number(host.replace(/\D/g, "")) || 1;
        let stdout = "";
        if (name.endsWith("-facts")) stdout = factsLine(host, n, arrayVarOf(scriptOf(inputs), "PEERS"));
        else if (name.endsWith("-backup")) stdout = JSON.stringify({ present: true, contentBase64: Buffer.from('{"log-level":"warn"}\n').toString("base64") });
        else if (/-swarm-(init|join)-/.test(name)) stdout = JSON.stringify({ nodeId: `node-${name.split("-").at(-1)}`, created: true, joined: true });
        else if (name.endsWith("-tokens")) stdout = JSON.stringify({ worker: "SWMTKN-1-worker-secret", manager: "SWMTKN-1-manager-secret" });
        else if (name.includes("-from-")) stdout = JSON.stringify({ from: name.split("-from-")[1], results: [] });
        // As if the rejoin had restarted the service "web" (tests that have one): a new address.
        else if (name.endsWith("-rejoin-run")) stdout = JSON.stringify({ addresses: { "overlay-svc-web-container-id": { before: "10.0.1.10", after: "10.0.1.99" } } });
        return { ...inputs, stdout, stderr: "" };
    }
    if (type === "docker:index/container:Container") {
        const nets = (inputs.networksAdvanced ?? []) as { name: string }[];
        return { ...inputs, networkDatas: nets.map((net, i) => ({ networkName: net.name, ipAddress: `10.0.1.${10 + i}` })) };
    }
    if (type === "docker:index/remoteImage:RemoteImage") return { ...inputs, imageId: `sha256:${inputs.name}` };
    return inputs;
}

export const recorded: Recorded[] = [];

/** The wire marker Pulumi puts on secret values; the mock receives inputs in that form. */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";
/** Paths of recorded inputs that arrived as secrets, e.g. `overlay-a-facts:connection.privateKey`. */
export const secretInputs: string[] = [];

function unwrapSecrets(v: unknown, path = ""): unknown {
    if (Array.isArray(v)) return v.map((x, i) => unwrapSecrets(x, `${path}[${i}]`));
    if (v && typeof v === "object") {
        const o = v as Record<string, unknown>;
        if (o[SIG_KEY] === SECRET_SIG) {
            secretInputs.push(path);
            return unwrapSecrets(o.value, path);
        }
        return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrapSecrets(x, path && !path.endsWith(":") ? `${path}.${k}` : `${path}${k}`)]));
    }
    return v;
}
export const declared: Declared[] = [];

export async function installMocks(stack = "test"): Promise<void> {
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                recorded.push({ type: args.type, name: args.name, inputs: unwrapSecrets(args.inputs, `${args.name}:`) as Record<string, any>, ...(args.provider ? { provider: args.provider } : {}) });
                return { id: `${args.name}-id`, state: stateFor(args) };
            },
            call(args) {
                return args.inputs;
            },
        },
        "docker-overlay",
        stack,
        false,
    );
}

/** A transformation on the top component: it sees every child with its options. */
export function recordDeclarations(topName: string, top: () => pulumi.Resource): pulumi.ResourceTransformation {
    const names = new Map<pulumi.Resource, string>();
    return (args) => {
        names.set(args.resource, args.name);
        const nameOf = (r: unknown) => (r === undefined ? undefined : (names.get(r as pulumi.Resource) ?? (r === top() ? topName : "?")));
        const deps = args.opts.dependsOn;
        const depList = (Array.isArray(deps) ? deps : deps ? [deps] : []) as unknown[];
        const provider = args.opts.provider as pulumi.ProviderResource | undefined;
        declared.push({
            type: args.type,
            name: args.name,
            ...(args.opts.parent ? { parent: nameOf(args.opts.parent)! } : {}),
            ...(provider ? { provider: nameOf(provider)! } : {}),
            dependsOn: depList.map((d) => nameOf(d)!),
            additionalSecretOutputs: [...((args.opts as pulumi.CustomResourceOptions).additionalSecretOutputs ?? [])],
            deleteBeforeReplace: (args.opts as pulumi.CustomResourceOptions).deleteBeforeReplace === true,
            aliases: (args.opts.aliases ?? []).map((a) => (typeof a === "string" || !("name" in (a as object)) ? a : { name: (a as pulumi.Alias).name, parent: nameOf((a as pulumi.Alias).parent) })),
            resource: args.resource,
        });
        return undefined;
    };
}

/** Resolves an output's value (and whether it is secret) under mocks. */
export async function settle<T>(o: pulumi.Output<T>): Promise<{ value: T; secret: boolean }> {
    const value = await new Promise<T>((resolve) => o.apply((v) => resolve(v)));
    return { value, secret: await pulumi.isSecret(o) };
}

/**
 * Builds the cluster from a raw config (as a stack file would hold it) and waits until every
 * declared resource is registered with the mock engine.
 */
export async function buildCluster(raw: unknown, stack = "test", extra: Pick<OverlayClusterArgs, "daemonEpochs" | "applyEpochs" | "joinEpochs" | "consulAclToken" | "consulTlsKey" | "preflightFacts"> = {}) {
    await installMocks(stack);
    const { parseConfig } = await import("../../components/config");
    const { OverlayCluster } = await import("../../components/overlayCluster");
    const config = parseConfig(withPinnedKeys(raw), `Pulumi.${stack}.yaml`);
    let top: pulumi.Resource | undefined;
    // The raw config as a library user passes it: the component validates it itself.
    const cluster = new OverlayCluster(
        "overlay",
        { ...(withPinnedKeys(raw) as ClusterSettings), sshPrivateKey: pulumi.secret(PRIVATE_KEY), stack, ...extra },
        { transformations: [recordDeclarations("overlay", () => top!)] },
    );
    top = cluster;
    await Promise.all(declared.map((d) => settle(d.resource.urn)));
    await settle(cluster.serviceAddresses);
    if (cluster.connectivity) await settle(cluster.connectivityReport);
    return { cluster, config };
}

/** A host key for mocked hosts (an ed25519 key line; no host answers here): a host must have one pinned. */
export const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBQU3Xf9df2U7mRix5uE5TIr55H3udLTI7a76JCjg6gt";

/** RAW with `hostKey` set on every host that has none (tests of other things than host keys). */
function withPinnedKeys(raw: unknown): unknown {
    const r = raw as { hosts?: Record<string, unknown>[]; ssh?: { insecureAcceptAnyHostKey?: boolean } };
    if (!Array.isArray(r?.hosts) || r.ssh?.insecureAcceptAnyHostKey) return raw;
    return { ...r, hosts: r.hosts.map((h) => ({ hostKey: HOST_KEY, ...h })) };
}

export const PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nmock-key-material\n-----END OPENSSH PRIVATE KEY-----\n";

/**
 * The script a remote command runs in PHASE, decoded from its stdin bundle; the command line of
 * that phase must be the fixed one that reads it (scriptCommand), holding nothing of the script.
 */
export function scriptOf(inputs: Record<string, any>, phase: ScriptPhase = "create"): string {
    const line = inputs[phase] as unknown;
    // The line of stdin it reads: its own phase's, or create's for an update that runs create's script.
    const reads = typeof line === "string" ? /"s\/\^(create|update|delete) \/\/p"/.exec(line)?.[1] : undefined;
    if (typeof line !== "string" || !/^bash --norc --noprofile -c '[^']*' docker-overlay-[A-Za-z0-9._-]+$/.test(line) || !(reads === phase || (phase === "update" && reads === "create"))) {
        throw new Error(`the ${phase} command is not a fixed stdin-reading line: ${String(line).slice(0, 120)}`);
    }
    const script = scriptFromBundle(String(inputs.stdin ?? ""), reads as ScriptPhase);
    if (script === undefined) throw new Error(`stdin holds no ${reads} script`);
    return script;
}

/** The value a rendered script assigns to NAME (single-quoted by renderScript). */
export function varOf(script: string, name: string): string {
    const m = script.match(new RegExp(`^${name}=('(?:[^']|'\\\\'')*')$`, "m"));
    if (!m) throw new Error(`${name} not assigned in script`);
    return m[1]!.slice(1, -1).replace(/'\\''/g, "'");
}

/** The items a rendered script assigns to the array NAME (each single-quoted by renderScript). */
export function arrayVarOf(script: string, name: string): string[] {
    const m = script.match(new RegExp(`^${name}=\\((.*)\\)$`, "m"));
    if (!m) throw new Error(`${name} not assigned as an array in script`);
    return [...m[1]!.matchAll(/'((?:[^']|'\\'')*)'/g)].map((x) => x[1]!.replace(/'\\''/g, "'"));
}

/**
 * Waits until no resource has been recorded for a while: a run that a test did not await to the
 * end (its outputs unused) can still be registering resources, which would land in the next test.
 */
export async function quiesce(quietMs = 100): Promise<void> {
    for (let n = -1; n !== recorded.length; ) {
        n = recorded.length;
        await new Promise((r) => setTimeout(r, quietMs));
    }
}

/** (type, name) pairs, sorted, for exact comparison. */
export function inventory(): string[] {
    return recorded.map((r) => `${r.type} ${r.name}`).sort();
}

export function byName(name: string): Recorded {
    const r = recorded.find((x) => x.name === name);
    if (!r) throw new Error(`no resource named ${name}; have: ${recorded.map((x) => x.name).join(", ")}`);
    return r;
}

export function declaredNamed(name: string): Declared {
    const d = declared.find((x) => x.name === name);
    if (!d) throw new Error(`no declaration named ${name}`);
    return d;
}
