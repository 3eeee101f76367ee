// Reads the stack's configuration once, builds the cluster, exports what a person needs.
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE, ConfigError, configSchema, parseConfig } from "./components/config";
import { OverlayCluster } from "./components/overlayCluster";

const stack = pulumi.getStack();
const stackFile = `Pulumi.${stack}.yaml`;
const config = new pulumi.Config(CONFIG_NAMESPACE);

/** Keys kept out of the schema because they are secrets. */
const SECRET_KEYS = ["sshPrivateKey", "consulAclToken"];
/** The SDK knows which keys were stored with `--secret`, but does not declare it in its types. */
const isConfigSecret = (require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: (key: string) => boolean }).isConfigSecret;

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

function build() {
    const clusterConfig = parseConfig(readRaw(), stackFile);
    const setKey = "`pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`";
    const sshPrivateKey = readSecret("sshPrivateKey", setKey);
    if (!sshPrivateKey) throw new ConfigError(stackFile, [`\`${CONFIG_NAMESPACE}:sshPrivateKey\` is missing: ${setKey}`]);
    const consulAclToken = readSecret("consulAclToken", "`pulumi config set --secret consulAclToken TOKEN`");
    const cluster = new OverlayCluster("overlay", {
        config: clusterConfig,
        sshPrivateKey,
        ...(consulAclToken ? { consulAclToken } : {}),
        stack,
    });
    return { clusterConfig, cluster };
}

function buildOrExplain() {
    try {
        return build();
    } catch (e) {
        // A RunError is shown without a stack trace: the message says what to fix.
        if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
        throw e;
    }
}

const { clusterConfig, cluster } = buildOrExplain();

export const mode = clusterConfig.mode;
export const network = clusterConfig.network.name;
export const serviceAddresses = cluster.serviceAddresses;
export const kvUrl = cluster.kvUrl;
export const consulUiUrl = cluster.consulUiUrl;
export const connectivityReport = cluster.connectivityReport;
export const hosts = cluster.hostFacts;
