// The library: `import { OverlayCluster } from "docker-overlay"`. OverlayCluster is the whole
// overlay from its settings; its parts are exported for programs that compose their own. The
// stack program (../index.ts, ../program.ts) is one user of this module: it reads the settings
// from the stack file and runs preflight before it builds the cluster.
export { OverlayCluster, type OverlayClusterArgs } from "./overlayCluster";
export {
    clusterConfigOf,
    type ClusterSettings,
    type ConnectivitySettings,
    type DockerSettings,
    type HostSettings,
    type KvSettings,
    type NetworkSettings,
    type PortSettings,
    type ServiceSettings,
    type SshSettings,
} from "./clusterSettings";
export { type ClusterConfig, ConfigError } from "./config";
export { ConnectivityCheck, type ConnectivityCheckArgs, type ProbeReport } from "./connectivityCheck";
export { ConsulRegistry, type ConsulRegistryArgs } from "./consulRegistry";
export { DaemonConfig, type DaemonConfigArgs } from "./daemonConfig";
export { DockerHost, type DockerHostArgs } from "./dockerHost";
export { KvStore, type KvStoreArgs } from "./kvStore";
export { OverlayNetwork, type OverlayNetworkArgs } from "./overlayNetwork";
export { OverlayRejoin, type OverlayRejoinArgs } from "./overlayRejoin";
export { Service, type ServiceArgs } from "./service";
export { Swarm, type SwarmArgs } from "./swarm";
