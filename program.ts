// The program: reads the stack's configuration once, builds the cluster and returns what a
// person needs as stack outputs. `index.ts` runs it for the CLI; the lab runner and the
// end-to-end tests run it as an Automation API inline program (see README, "Toolchain").
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE, ConfigError, configSchema, parseConfig } from "./components/config";
import { OverlayCluster } from "./components/overlayCluster";

/** Keys kept out of the schema because they are secrets. */
const SECRET_KEYS = ["sshPrivateKey", "consulAclToken"];
/** The SDK knows which keys were stored with `--secret`, but does not declare it in its types. */
const isConfigSecret = (require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: (key: string) => boolean }).isConfigSecret;

/** Builds the stack; returns its outputs. */
export function main() {
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

    let built: ReturnType<typeof build>;
    try {
        built = build();
    } catch (e) {
        // A RunError is shown without a stack trace: the message says what to fix.
        if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
        throw e;
    }
    const { clusterConfig, cluster } = built;
    return {
        mode: clusterConfig.mode,
        network: clusterConfig.network.name,
        serviceAddresses: cluster.serviceAddresses,
        kvUrl: cluster.kvUrl,
        consulUiUrl: cluster.consulUiUrl,
        connectivityReport: cluster.connectivityReport,
        hosts: cluster.hostFacts,
    };
}
