// pulumi-resource-docker, built from upstream's pulumi-docker 237b789 (toolchain/build-upstream.sh),
// must be the provider of the @pulumi/docker SDK that package.json pins: for every resource the
// SDK has (and the provider configuration), every input the SDK sends (top level and inside the
// nested input types) must be a property of the provider's schema, with the same name and the
// same shape (list, map, object, scalar). The provider may know more than the SDK sends (it is
// newer); what it knows beyond the SDK is counted and printed, not a failure.
//
// The schema is the one embedded in the binary: through `pulumi package get-schema BINARY`
// when the toolchain's pulumi CLI is there, else by asking the plugin itself over gRPC
// (GetSchema), so nothing here trusts a file the build left behind.
//
// Binary: $DOCKER_PROVIDER_BIN, else $DOCKER_OVERLAY_TOOLCHAIN_BIN/pulumi-resource-docker, else
// the newest ${DOCKER_OVERLAY_CACHE:-~/.cache/docker-overlay}/toolchain/*/bin/pulumi-resource-docker.
//   npx vitest run test/toolchain/docker-schema.test.ts
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = path.join(__dirname, "..", "..");
const SDK = path.join(REPO, "node_modules", "@pulumi", "docker");
const SDK_VERSION = (JSON.parse(fs.readFileSync(path.join(SDK, "package.json"), "utf8")) as { version: string })
    .version;
/** toolchain/versions.env: the SDK release the provider serves and the version it reports. */
const PINS = Object.fromEntries(
    fs
        .readFileSync(path.join(REPO, "toolchain", "versions.env"), "utf8")
        .split("\n")
        .flatMap((l) => (/^([A-Z_0-9]+)=(.*)$/.exec(l) ? [[RegExp.$1, RegExp.$2.replace(/^"|"$/g, "")]] : [])),
) as Record<string, string>;
const SDK_RELEASE = PINS.DOCKER_SDK_RELEASE!;
const PLUGIN_VERSION = PINS.DOCKER_PLUGIN_VERSION!;
const CACHE = process.env.DOCKER_OVERLAY_CACHE ?? path.join(os.homedir(), ".cache", "docker-overlay");
const BIN_NAME = "pulumi-resource-docker";

/** Every resource of the SDK: class name and module file, from each module's `__pulumiType`. */
const RESOURCES = fs
    .readdirSync(SDK)
    .filter((f) => f.endsWith(".js"))
    .flatMap((f) => {
        const m = /(\w+)\.__pulumiType = 'docker:index\/(\w+):\w+';/.exec(fs.readFileSync(path.join(SDK, f), "utf8"));
        return m ? [{ cls: m[1]!, file: m[2]! }] : [];
    })
    .sort((a, b) => a.cls.localeCompare(b.cls));
/** The ones this project uses (they must be among them). */
const USED = ["Container", "Network", "Volume", "RemoteImage"];

type Shape = "array" | "map" | "object" | "scalar";

interface SchemaProperty {
    type?: string;
    $ref?: string;
    items?: SchemaProperty;
    additionalProperties?: SchemaProperty;
}
interface PackageSchema {
    name: string;
    version?: string;
    config?: { variables?: Record<string, SchemaProperty> };
    provider?: { inputProperties?: Record<string, SchemaProperty> };
    resources?: Record<string, { inputProperties?: Record<string, SchemaProperty> }>;
    types?: Record<string, { properties?: Record<string, SchemaProperty>; enum?: unknown[] }>;
}

/** A property the SDK sends: its name, its shape and, for object-valued ones, the SDK's input
 * interface (`inputs.X`) that describes the object. */
interface SdkProperty {
    name: string;
    shape: Shape;
    ref?: string;
}

// ------------------------------------------------------------------------------------------
// What the SDK sends.

/** Names the constructor copies from `args` into resourceInputs (what goes over the wire). */
function sdkInputNames(jsFile: string): string[] {
    const js = fs.readFileSync(path.join(SDK, `${jsFile}.js`), "utf8");
    const names = new Set<string>();
    for (const m of js.matchAll(/resourceInputs\["(\w+)"\]\s*=\s*[^;\n]*\bargs(?:\?\.|\s*\?\s*args\.)(\w+)/g)) {
        names.add(m[1]);
    }
    return [...names].sort();
}

/** The members of `interface NAME { ... }` in a .d.ts text: name -> TypeScript type. */
function interfaceMembers(dts: string, name: string): Map<string, string> | undefined {
    const start = new RegExp(`export interface ${name} \\{`).exec(dts);
    if (!start) return undefined;
    let depth = 0;
    let i = start.index + start[0].length - 1;
    const from = i + 1;
    for (; i < dts.length; i++) {
        if (dts[i] === "{") depth++;
        else if (dts[i] === "}" && --depth === 0) break;
    }
    const body = dts.slice(from, i).replace(/\/\*\*[\s\S]*?\*\//g, "");
    const members = new Map<string, string>();
    // Top-level members only: "name?: type;" at brace depth 0 of the body.
    let d = 0;
    let stmt = "";
    for (const ch of body) {
        if (ch === "{" || ch === "<" || ch === "(" || ch === "[") d++;
        if (ch === "}" || ch === ">" || ch === ")" || ch === "]") d--;
        if (ch === ";" && d === 0) {
            const m = /^\s*(?:readonly\s+)?(\w+)\??:\s*([\s\S]+)$/.exec(stmt);
            if (m) members.set(m[1], m[2].replace(/\s+/g, " ").trim());
            stmt = "";
        } else {
            stmt += ch;
        }
    }
    return members;
}

/** Shape of a TypeScript input type as the SDK writes them, e.g.
 * `pulumi.Input<pulumi.Input<inputs.ContainerPort>[]>` -> array of inputs.ContainerPort. */
function tsShape(ts: string): { shape: Shape; ref?: string } {
    const ref = /inputs\.(\w+)/.exec(ts)?.[1];
    const t = ts.replace(/\s*\|\s*undefined/g, "");
    if (/\[\]>*$/.test(t)) return { shape: "array", ref };
    if (/\{\s*\[key: string\]/.test(t)) return { shape: "map", ref };
    if (ref) return { shape: "object", ref };
    return { shape: "scalar" };
}

const ARGS_DTS = new Map<string, string>();
function readDts(file: string): string {
    if (!ARGS_DTS.has(file)) ARGS_DTS.set(file, fs.readFileSync(path.join(SDK, file), "utf8"));
    return ARGS_DTS.get(file)!;
}

/** What the SDK sends for one resource (or the provider): names from the .js constructor,
 * shapes from the `XArgs` interface of the .d.ts. */
function sdkProperties(file: string, argsInterface: string): SdkProperty[] {
    const members = interfaceMembers(readDts(`${file}.d.ts`), argsInterface);
    if (!members) throw new Error(`interface ${argsInterface} not found in @pulumi/docker/${file}.d.ts`);
    return sdkInputNames(file).map((name) => {
        const ts = members.get(name);
        return ts === undefined ? { name, shape: "scalar" as Shape } : { name, ...tsShape(ts) };
    });
}

/** Members of the SDK's nested input type `inputs.NAME` (types/input.d.ts). */
function sdkTypeProperties(name: string): SdkProperty[] {
    const members = interfaceMembers(readDts(path.join("types", "input.d.ts")), name);
    if (!members) throw new Error(`interface ${name} not found in @pulumi/docker/types/input.d.ts`);
    return [...members].map(([n, ts]) => ({ name: n, ...tsShape(ts) }));
}

// ------------------------------------------------------------------------------------------
// What the schema has.

function schemaShape(p: SchemaProperty): { shape: Shape; ref?: string } {
    if (p.type === "array") return { shape: "array", ref: p.items?.$ref };
    if (p.type === "object" && p.additionalProperties) return { shape: "map", ref: p.additionalProperties.$ref };
    if (p.$ref && p.$ref.startsWith("#/types/")) return { shape: "object", ref: p.$ref };
    return { shape: "scalar" };
}

/** The schema type token whose name is NAME, e.g. ContainerPort -> docker:index/ContainerPort:ContainerPort. */
function schemaTypeFor(schema: PackageSchema, ref: string | undefined, sdkName: string): string | undefined {
    if (ref) return decodeURIComponent(ref.replace(/^#\/types\//, ""));
    return Object.keys(schema.types ?? {}).find((t) => t.endsWith(`:${sdkName}`));
}

/**
 * Compares what the SDK sends with the schema's properties. Walks into nested input types.
 * Returns one line per problem (empty when everything matches).
 */
function compare(
    schema: PackageSchema,
    where: string,
    sdk: SdkProperty[],
    props: Record<string, SchemaProperty> | undefined,
    seen = new Set<string>(),
): string[] {
    if (!props) return [`${where}: not in the schema`];
    const problems: string[] = [];
    for (const p of sdk) {
        const s = props[p.name];
        if (!s) {
            problems.push(`${where}.${p.name}: missing (schema has: ${Object.keys(props).sort().join(", ")})`);
            continue;
        }
        let got = schemaShape(s);
        // An enum type (`enums.X` in the SDK) is a string or number on the wire.
        if (got.shape === "object" && schema.types?.[schemaTypeFor(schema, got.ref, "") ?? ""]?.enum) got = { shape: "scalar" };
        if (got.shape !== p.shape) {
            problems.push(`${where}.${p.name}: the SDK sends ${p.shape}, the schema has ${got.shape}`);
            continue;
        }
        if (p.ref && !seen.has(p.ref)) {
            seen.add(p.ref);
            const tok = schemaTypeFor(schema, got.ref, p.ref);
            const typ = tok ? schema.types?.[tok] : undefined;
            problems.push(...compare(schema, `${where}.${p.name}(${p.ref})`, sdkTypeProperties(p.ref), typ?.properties, seen));
        }
    }
    return problems;
}

/** Every mismatch between the SDK and SCHEMA, for every resource and the provider config. */
function checkAll(schema: PackageSchema): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const r of RESOURCES) {
        const token = `docker:index/${r.file}:${r.cls}`;
        out[r.cls] = compare(schema, token, sdkProperties(r.file, `${r.cls}Args`), schema.resources?.[token]?.inputProperties);
    }
    out.provider = compare(schema, "provider", sdkProperties("provider", "ProviderArgs"), schema.provider?.inputProperties);
    return out;
}

// ------------------------------------------------------------------------------------------
// Getting the binary and its schema.

function findBinary(): string {
    const explicit = process.env.DOCKER_PROVIDER_BIN;
    if (explicit) return explicit;
    const tc = process.env.DOCKER_OVERLAY_TOOLCHAIN_BIN;
    if (tc && fs.existsSync(path.join(tc, BIN_NAME))) return path.join(tc, BIN_NAME);
    return newestInCache(BIN_NAME);
}

/** Newest CACHE/toolchain/<key>/bin/NAME, or "". */
function newestInCache(name: string): string {
    const root = path.join(CACHE, "toolchain");
    const found = (fs.existsSync(root) ? fs.readdirSync(root) : [])
        .map((k) => path.join(root, k, "bin", name))
        .filter((p) => fs.existsSync(p))
        .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
    return found[0] ?? "";
}

/** The schema through `pulumi package get-schema`, the engine's own way of asking a plugin. */
function schemaViaCli(pulumi: string, bin: string, home: string): PackageSchema {
    const r = spawnSync(pulumi, ["package", "get-schema", bin], {
        encoding: "utf8",
        maxBuffer: 256 * 1024 * 1024,
        timeout: 120_000,
        env: {
            ...process.env,
            PULUMI_HOME: home,
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        },
    });
    if (r.status !== 0) throw new Error(`${pulumi} package get-schema ${bin} failed: ${r.stderr || r.error}`);
    return JSON.parse(r.stdout) as PackageSchema;
}

/** The schema straight from the plugin: start it, read its port, call GetSchema over gRPC. */
async function schemaViaGrpc(bin: string): Promise<PackageSchema> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const rpc = require("@pulumi/pulumi/proto/provider_grpc_pb");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pb = require("@pulumi/pulumi/proto/provider_pb");
    const child = spawn(bin, [], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    try {
        const port = await new Promise<number>((resolve, reject) => {
            const lines = readline.createInterface({ input: child.stdout });
            lines.once("line", (l) => resolve(Number(l.trim())));
            child.once("exit", (c) => reject(new Error(`${bin} exited (${c}) before printing its port: ${stderr}`)));
        });
        const client = new rpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
        const resp = await new Promise<{ getSchema(): string }>((resolve, reject) =>
            client.getSchema(new pb.GetSchemaRequest(), (err: Error | null, r: { getSchema(): string }) =>
                err ? reject(err) : resolve(r),
            ),
        );
        client.close();
        return JSON.parse(resp.getSchema()) as PackageSchema;
    } finally {
        child.kill("SIGTERM");
    }
}

// ------------------------------------------------------------------------------------------

let bin = "";
let schema: PackageSchema;
let source = "";
let tmp = "";

beforeAll(async () => {
    bin = findBinary();
    if (!bin || !fs.existsSync(bin)) {
        throw new Error(
            `no ${BIN_NAME} found (DOCKER_PROVIDER_BIN, DOCKER_OVERLAY_TOOLCHAIN_BIN, ${CACHE}/toolchain/*/bin); ` +
                "build it with `npm run toolchain` (or `bash toolchain/build-upstream.sh docker OUT_DIR` and set DOCKER_PROVIDER_BIN=OUT_DIR/" +
                BIN_NAME +
                ")",
        );
    }
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "docker-schema-"));
    const pulumi = newestInCache("pulumi");
    if (pulumi && process.env.DOCKER_SCHEMA_VIA !== "grpc") {
        schema = schemaViaCli(pulumi, bin, path.join(tmp, "pulumi-home"));
        source = `${pulumi} package get-schema`;
    } else {
        schema = await schemaViaGrpc(bin);
        source = "GetSchema over gRPC";
    }
}, 180_000);

afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe(`pulumi-resource-docker ${PLUGIN_VERSION} against @pulumi/docker ${SDK_VERSION}`, () => {
    it("the installed SDK is the release toolchain/versions.env says the provider serves", () => {
        expect(SDK_VERSION).toBe(SDK_RELEASE);
    });

    it("the plugin is upstream's module and its schema says docker of the version it was stamped with", () => {
        const m = spawnSync("go", ["version", "-m", bin], { encoding: "utf8", timeout: 30_000 });
        expect(m.stdout, `go version -m ${bin}`).toMatch(/\tmod\tgithub\.com\/pulumi\/pulumi-docker\/provider\/v5\t/);
        expect(m.stdout).toContain(`-X github.com/pulumi/pulumi-docker/provider/v5/pkg/version.Version=${PLUGIN_VERSION}`);
        expect(schema.name, source).toBe("docker");
        expect(schema.version, source).toBe(PLUGIN_VERSION);
    });

    it("every resource of the SDK is a resource of the provider, including the ones this project uses", () => {
        expect(RESOURCES.map((r) => r.cls)).toEqual(expect.arrayContaining(USED));
        expect(RESOURCES.length).toBeGreaterThanOrEqual(10);
        const missing = RESOURCES.map((r) => `docker:index/${r.file}:${r.cls}`).filter((t) => !schema.resources?.[t]);
        expect(missing, `schema from ${source}`).toEqual([]);
    });

    it.each(RESOURCES.map((r) => r.cls))("%s: every input the SDK sends is in the schema, same name and shape", (cls) => {
        const problems = checkAll(schema)[cls];
        expect(problems, `${cls} (schema from ${source}, binary ${bin})`).toEqual([]);
    });

    it("says what the provider has beyond the SDK (newer than the SDK: a count, not a failure)", () => {
        const extra = RESOURCES.flatMap((r) => {
            const token = `docker:index/${r.file}:${r.cls}`;
            const sent = new Set(sdkInputNames(r.file));
            return Object.keys(schema.resources?.[token]?.inputProperties ?? {})
                .filter((p) => !sent.has(p))
                .map((p) => `${r.cls}.${p}`);
        });
        console.log(`pulumi-resource-docker ${PLUGIN_VERSION} has ${extra.length} resource inputs that @pulumi/docker ${SDK_VERSION} does not send${extra.length ? `: ${extra.join(", ")}` : ""}`);
        expect(Array.isArray(extra)).toBe(true);
    });

    it("provider config: every key the SDK sends is a provider input (and a config variable)", () => {
        expect(checkAll(schema).provider, `schema from ${source}`).toEqual([]);
        const vars = Object.keys(schema.config?.variables ?? {});
        expect(vars).toEqual(expect.arrayContaining(sdkInputNames("provider")));
    });

    it("the SDK side of the check is not empty (a parser gone wrong would pass everything)", () => {
        const container = sdkProperties("container", "ContainerArgs");
        expect(container.length).toBeGreaterThan(50);
        expect(container).toContainEqual({ name: "networksAdvanced", shape: "array", ref: "ContainerNetworksAdvanced" });
        expect(container).toContainEqual({ name: "healthcheck", shape: "object", ref: "ContainerHealthcheck" });
        expect(container).toContainEqual({ name: "labels", shape: "array", ref: "ContainerLabel" });
        expect(sdkInputNames("provider")).toEqual(expect.arrayContaining(["host", "registryAuth", "sshOpts"]));
    });

    it("the check fails on a schema that lacks a property or has another shape", () => {
        const broken = structuredClone(schema);
        const container = broken.resources!["docker:index/container:Container"].inputProperties!;
        delete container.networksAdvanced;
        container.networkDatas = container.ports; // an unrelated extra property changes nothing
        const portType = Object.keys(broken.types!).find((t) => t.endsWith(":ContainerPort"))!;
        delete broken.types![portType].properties!.internal;
        const p = broken.provider!.inputProperties!;
        p.registryAuths = p.registryAuth;
        delete p.registryAuth;
        const vol = broken.resources!["docker:index/volume:Volume"].inputProperties!;
        vol.labels = { type: "object", additionalProperties: { type: "string" } };

        const got = checkAll(broken);
        expect(got.Container.join("\n")).toMatch(/Container\.networksAdvanced: missing/);
        expect(got.Container.join("\n")).toMatch(/ports\(ContainerPort\)\.internal: missing/);
        expect(got.provider.join("\n")).toMatch(/provider\.registryAuth: missing/);
        expect(got.Volume.join("\n")).toMatch(/Volume\.labels: the SDK sends array, the schema has map/);
        expect(got.Network).toEqual(checkAll(schema).Network);
    });
});
