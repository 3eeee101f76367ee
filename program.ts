// The program: reads the stack's configuration once, builds the cluster and returns what a
// person needs as stack outputs. `index.ts` runs it for the CLI; the lab runner and the
// end-to-end tests run it as an Automation API inline program (see README, "Toolchain").
import * as pulumi from "@pulumi/pulumi";
import { type ClusterConfig, CONFIG_NAMESPACE, ConfigError, configSchema, consulAclTokenProblems, parseStackConfig, resolveMode, type StackConfig } from "./components/config";
import { type ConsulClientTls, consulAnswers, consulKey, pickConsulServer, REGISTRY_SERVER_KEY } from "./components/consulEndpoint";
import { CONSUL_TLS_KEY_HINT, tlsMaterialProblems } from "./components/consulTls";
import { settingsOf } from "./components/clusterSettings";
import { resolveHostKeys, unpinnedProblems } from "./components/hostKeys";
import { probeHosts } from "./components/hostProbe";
import { OverlayCluster } from "./components/overlayCluster";
import { findDrift } from "./components/drift";
import type { HostFacts } from "./components/hostFacts";
import { ownerOf, ownershipProblems } from "./components/ownership";
import { topologyDot, topologyMermaid, type TopologyInput } from "./components/topology";
import { daemonEpochs, decideMode, describeFacts, findProblems, hubOf, preflightFailure, routeTargetFor } from "./components/preflight";

/** Keys kept out of the schema because they are secrets. */
const SECRET_KEYS = ["sshPrivateKey", "consulAclToken", "consulTlsKey"];
/** The SDK knows which keys were stored with `--secret`, but does not declare it in its types. */
const isConfigSecret = (require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: (key: string) => boolean }).isConfigSecret;

/**
 * Preflight: every host's facts over SSH (read-only) before any resource is registered, so
 * that `pulumi preview` fails on a cluster the recipe would break, naming the hosts and the fix.
 * Decides `mode: auto`. Throws RunError listing every problem.
 */
async function preflight(
    stack: StackConfig,
    privateKey: string,
    stackFile: string,
): Promise<{ config: ClusterConfig; facts?: Record<string, HostFacts>; epochs?: Record<string, number>; applyEpochs?: Record<string, number>; joinEpochs?: Record<string, number> }> {
    const skipped = "preflight skipped (`preflight.enabled: false`): engines, hostnames, engine IDs, routes, MTU and VXLAN of the hosts were not checked";
    if (!stack.preflight.enabled) {
        const unpinned = unpinnedProblems(stack.hosts, stack.ssh);
        if (unpinned.length > 0) throw new ConfigError(stackFile, unpinned);
        if (stack.mode === "auto")
            throw new ConfigError(stackFile, ["`docker-overlay:mode` is \"auto\": the choice needs the engines' versions, which only preflight reads; with `preflight.enabled: false` set `mode: kv` or `mode: swarm`"]);
        pulumi.log.info(`docker-overlay: ${skipped}`);
        return { config: resolveMode(stack, stack.mode, "set in the stack file", stackFile) };
    }
    const t0 = Date.now();
    const addresses = stack.hosts.map((h) => h.address);
    const outcomes = await probeHosts(
        stack.hosts.map((h) => ({ name: h.name, address: h.address, sshPort: h.sshPort, sshUser: h.sshUser, ...(h.hostKey ? { hostKey: h.hostKey } : { acceptAnyHostKey: stack.ssh.insecureAcceptAnyHostKey }), peers: addresses })),
        { privateKey, timeoutSeconds: stack.preflight.timeoutSeconds },
    );
    const seconds = ((Date.now() - t0) / 1000).toFixed(1);
    const decision = decideMode(stack, outcomes);
    if (stack.mode === "auto" && decision.mode) pulumi.log.info(`docker-overlay: \`mode: auto\` chose ${decision.mode}: ${decision.why}`);
    const problems = [...findProblems(stack, decision.mode, outcomes), ...ownershipProblems(ownerOf(pulumi.getProject(), pulumi.getStack()), outcomes)];
    if (!decision.mode && problems.length === 0) problems.push(`\`mode: auto\` could not decide: ${decision.why}`);
    if (problems.length > 0) throw new pulumi.RunError(preflightFailure(stackFile, problems));
    const hub = hubOf(stack, decision.mode);
    const seen = outcomes.flatMap((o) => {
        const h = stack.hosts.find((x) => x.name === o.host)!;
        return o.kind === "facts" ? [describeFacts(o.host, o.facts, routeTargetFor(h, stack.hosts, hub))] : [];
    });
    pulumi.log.info(`docker-overlay: preflight checked ${stack.hosts.length} host(s) in ${seconds}s, no problems (${seen.join("; ")})`);
    const config = resolveMode(stack, decision.mode!, decision.why, stackFile);
    // The hosts read their facts once per run, here: the cluster uses these instead of reading them again.
    const facts = Object.fromEntries(outcomes.flatMap((o) => (o.kind === "facts" ? [[o.host, o.facts] as const] : [])));
    const drift = findDrift(config.mode, ownerOf(pulumi.getProject(), pulumi.getStack()), hub.name, outcomes);
    for (const m of drift.messages) pulumi.log.warn(m);
    if (config.mode !== "kv") return { config, facts, joinEpochs: drift.joinEpochs };
    const epochs = daemonEpochs(outcomes);
    const restarted = Object.keys(epochs).filter((h) => epochs[h]!.restarted);
    if (restarted.length > 0)
        pulumi.log.info(
            `docker-overlay: Docker on ${restarted.join(", ")} started again since the last up (a reboot, a crash or a restart by hand): ` +
                `on every host the containers on ${config.network.name} are stopped and started again, so that the hosts learn each other's endpoints again (the *-rejoin resources; README, "When a host's Docker restarts")`,
        );
    return { config, facts, epochs: Object.fromEntries(Object.entries(epochs).map(([h, e]) => [h, e.epoch])), applyEpochs: drift.applyEpochs };
}

/**
 * A Consul cluster: the server the stack's Consul provider goes through: the one the last up went
 * through while it answers, else the first that answers (so that a refresh or an up works while a
 * server is down: `pulumi up --refresh --run-program` after a loss, and a preview after the
 * server is back shows no changes). Only with preflight, which is where the program may reach the hosts.
 */
async function consulRegistryServer(c: ClusterConfig, stack: string, aclToken: string | undefined, tlsKey: string | undefined): Promise<string | undefined> {
    const kv = c.kv;
    if (!kv || kv.backend !== "consul" || kv.servers.length < 2 || !c.preflight.enabled) return undefined;
    const servers = kv.servers.map((name) => ({ name, address: c.hosts.find((h) => h.name === name)!.address }));
    const tls: ConsulClientTls | undefined = kv.tls && tlsKey ? { ...kv.tls, key: tlsKey } : undefined;
    const { server, skipped } = await pickConsulServer(
        servers,
        (s) => consulAnswers(s.address, kv.port, tls ? { tls } : {}),
        (via) => consulKey(via.address, kv.port, `docker-overlay/${stack}/${REGISTRY_SERVER_KEY}`, { ...(aclToken ? { token: aclToken } : {}), ...(tls ? { tls } : {}) }),
    );
    const at = (s: { name: string; address: string }) => `${s.name} (${s.address}:${kv.port})`;
    if (skipped.length > 0) pulumi.log.info(`docker-overlay: Consul on ${skipped.map(at).join(", ")} does not answer; the stack's Consul resources go through ${at(server)}`);
    return server.name;
}

/**
 * The stack with every host's key from `hosts[].hostKey` or `ssh.knownHostsFile`. (OverlayCluster
 * warns on every run while keys go unchecked.)
 */
function withHostKeys(stack: StackConfig, stackFile: string): StackConfig {
    const { hosts, problems } = resolveHostKeys(stack.hosts, stack.ssh);
    if (problems.length > 0) throw new ConfigError(stackFile, problems);
    return { ...stack, hosts };
}

/** Builds the stack; returns its outputs. */
export async function main() {
    const stack = pulumi.getStack();
    const stackFile = `Pulumi.${stack}.yaml`;
    const config = new pulumi.Config(CONFIG_NAMESPACE);

    /** Every non-secret `docker-overlay:*` key, parsed from its stored JSON form; unknown keys kept so the schema names them. */
    function readRaw(): Record<string, unknown> {
        const raw: Record<string, unknown> = {};
        for (const full of Object.keys(pulumi.runtime.allConfig())) {
            const [ns, key] = full.split(":", 2) as [string, string];
            if (ns !== CONFIG_NAMESPACE || SECRET_KEYS.includes(key)) continue;
            raw[key] = key in configSchema.shape && key !== "mode" ? config.getObject(key) : config.get(key);
        }
        return raw;
    }

    /** A secret key's value, refused when it was stored in plain text. */
    function readSecret(key: string, howToSet: string): pulumi.Output<string> | undefined {
        if (config.get(key) === undefined) return undefined;
        if (isConfigSecret && !isConfigSecret(`${CONFIG_NAMESPACE}:${key}`))
            throw new ConfigError(stackFile, [
                `\`${CONFIG_NAMESPACE}:${key}\` is stored in plain text: run \`pulumi config rm ${key}\`, then ${howToSet}`,
            ]);
        return config.requireSecret(key);
    }

    async function build() {
        const stackConfig = withHostKeys(parseStackConfig(readRaw(), stackFile), stackFile);
        const setKey = "`pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`";
        const sshPrivateKey = readSecret("sshPrivateKey", setKey);
        if (!sshPrivateKey) throw new ConfigError(stackFile, [`\`${CONFIG_NAMESPACE}:sshPrivateKey\` is missing: ${setKey}`]);
        const consulAclToken = readSecret("consulAclToken", "`pulumi config set --secret consulAclToken TOKEN`");
        const consulTlsKey = readSecret("consulTlsKey", `\`${CONSUL_TLS_KEY_HINT}\``);
        const storeProblems = [
            ...consulAclTokenProblems(stackConfig, config.get("consulAclToken")),
            ...(stackConfig.kv?.tls ? tlsMaterialProblems(stackConfig.kv.tls, config.get("consulTlsKey")) : []),
        ];
        if (storeProblems.length > 0) throw new ConfigError(stackFile, storeProblems);
        // The key in plain text, only for preflight's own SSH connections (never logged).
        const { config: clusterConfig, facts, epochs, applyEpochs, joinEpochs } = await preflight(stackConfig, config.require("sshPrivateKey"), stackFile);
        const registryServer = await consulRegistryServer(clusterConfig, stack, config.get("consulAclToken"), config.get("consulTlsKey"));
        // The stack file's settings as preflight resolved them (mode, host keys): the component
        // checks them again with the same schema, as it does a library user's.
        const cluster = new OverlayCluster("overlay", {
            ...settingsOf(clusterConfig),
            sshPrivateKey,
            ...(registryServer ? { registryServer } : {}),
            ...(epochs ? { daemonEpochs: epochs } : {}),
            ...(applyEpochs ? { applyEpochs } : {}),
            ...(joinEpochs ? { joinEpochs } : {}),
            ...(facts ? { preflightFacts: facts } : {}),
            ...(consulAclToken ? { consulAclToken } : {}),
            ...(consulTlsKey ? { consulTlsKey } : {}),
            stack,
        });
        return { clusterConfig, cluster };
    }

    let built: Awaited<ReturnType<typeof build>>;
    try {
        built = await build();
    } catch (e) {
        // A RunError is shown without a stack trace: the message says what to fix.
        if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
        throw e;
    }
    const { clusterConfig, cluster } = built;
    const picture = pulumi
        .all([cluster.hostFacts, cluster.serviceAddresses, cluster.connectivityReport])
        .apply(([hosts, serviceAddresses, connectivity]): TopologyInput => ({ config: clusterConfig, hosts, serviceAddresses, ...(connectivity ? { connectivity } : {}) }));
    // Only the outputs this stack has: the engine warns about every output left undefined.
    return {
        mode: clusterConfig.mode,
        network: clusterConfig.network.name,
        serviceAddresses: cluster.serviceAddresses,
        ...(clusterConfig.mode === "kv" && clusterConfig.kv ? { kvUrl: cluster.kvUrl } : {}),
        ...(clusterConfig.kv?.backend === "consul" ? { consulUiUrl: cluster.consulUiUrl } : {}),
        ...(clusterConfig.connectivity.enabled ? { connectivityReport: cluster.connectivityReport } : {}),
        hosts: cluster.hostFacts,
        // The picture of what up built: Mermaid (paste it in a ```mermaid block) and Graphviz DOT
        // (`dot -Tsvg`), drawn from one model.
        topology: picture.apply(topologyMermaid),
        topologyDot: picture.apply(topologyDot),
    };
}
