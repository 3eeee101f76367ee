// kv mode with etcd (v2 API on) as the store instead of Consul, on three lab hosts: the same flow
// as the seed's, without the Consul registry (only a Consul store can hold registrations).
import { describe } from "vitest";
import { readStackFile, REPO } from "../../scripts/labStack";
import { overlayFlow } from "./flow";

const labServices = readStackFile(`${REPO}/Pulumi.lab.yaml`)["docker-overlay:services"] as Record<string, unknown>[];

describe("kv mode with etcd on the lab", () => {
    overlayFlow({
        title: "kv-etcd",
        stackName: "e2e-etcd",
        overrides: {
            kv: { backend: "etcd", host: "lab1", image: "dolab/etcd:3.4", pull: false },
            services: labServices.map(({ registerInConsul: _r, ...s }) => s),
        },
        scope: "global",
        clusterStore: "etcd://10.210.0.11:2379",
    });
});
