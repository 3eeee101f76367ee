// A minimal fake of Consul's HTTP API, served on 127.0.0.1 only, for the toolchain tests: no
// Consul server can be had on this machine (docs/toolchain.md). It implements what the Consul
// provider (docs/consul-provider.md) uses: PUT/GET/DELETE /v1/kv/<key> (GET and DELETE also with
// ?recurse), /v1/agent/self for the datacenter, and the catalog (PUT /v1/catalog/register and
// /v1/catalog/deregister, GET /v1/catalog/node/<node> and /v1/catalog/service/<service>). It
// records every request so the test can check what the provider did; with `token` set it
// answers 403 to any request whose X-Consul-Token is not that token, as Consul's ACLs do.
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
    method: string;
    path: string;
}

/** One request with what a test may want to check beyond method and path. */
export interface RequestDetail extends RecordedRequest {
    query: string;
    /** The X-Consul-Token header, if any. */
    token?: string;
    body: string;
}

export interface FakeService {
    ID: string;
    Service: string;
    Address: string;
    Port: number;
    Tags: string[] | null;
    Meta: Record<string, string> | null;
    Weights?: { Passing: number; Warning: number };
    EnableTagOverride?: boolean;
}

export interface FakeNode {
    Node: string;
    Address: string;
    Meta: Record<string, string> | null;
    services: Map<string, FakeService>;
}

export interface FakeConsulOptions {
    /** When set, every request must carry this X-Consul-Token, else 403 (as Consul's ACLs). */
    token?: string;
}

export interface FakeConsul {
    /** host:port to give the provider as `address`. */
    address: string;
    /** The KV store: key -> value. */
    kv: Map<string, string>;
    /** Every request, in order. */
    requests: RecordedRequest[];
    /** Every request with its query, token and body, in order. */
    details: RequestDetail[];
    /** The catalog: node name -> node and its services. */
    nodes: Map<string, FakeNode>;
    close(): Promise<void>;
}

export async function startFakeConsul(datacenter = "dc1", options: FakeConsulOptions = {}): Promise<FakeConsul> {
    const kv = new Map<string, string>();
    const flags = new Map<string, number>();
    const modifyIndex = new Map<string, number>();
    const requests: RecordedRequest[] = [];
    const details: RequestDetail[] = [];
    const nodes = new Map<string, FakeNode>();
    let index = 1;

    const entry = (key: string) => {
        const i = modifyIndex.get(key) ?? index;
        return {
            Key: key,
            Value: Buffer.from(kv.get(key) ?? "", "utf8").toString("base64"),
            Flags: flags.get(key) ?? 0,
            CreateIndex: i,
            ModifyIndex: i,
            LockIndex: 0,
        };
    };
    const nodeJson = (n: FakeNode) => ({
        ID: "",
        Node: n.Node,
        Address: n.Address,
        Datacenter: datacenter,
        TaggedAddresses: null,
        Meta: n.Meta ?? {},
        CreateIndex: index,
        ModifyIndex: index,
    });
    const serviceJson = (s: FakeService) => ({
        ID: s.ID,
        Service: s.Service,
        Tags: s.Tags ?? [],
        Address: s.Address,
        Meta: s.Meta ?? {},
        Port: s.Port,
        Weights: s.Weights ?? { Passing: 1, Warning: 1 },
        EnableTagOverride: s.EnableTagOverride ?? false,
    });

    const server = http.createServer((req, res) => {
        const url = new URL(req.url ?? "/", "http://127.0.0.1");
        requests.push({ method: req.method ?? "", path: url.pathname });
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const token = req.headers["x-consul-token"];
            const body = Buffer.concat(chunks).toString("utf8");
            details.push({
                method: req.method ?? "",
                path: url.pathname,
                query: url.search,
                token: Array.isArray(token) ? token.join(",") : token,
                body,
            });
            // The Consul API client reads these on every query answer.
            res.setHeader("X-Consul-Index", String(index));
            res.setHeader("X-Consul-KnownLeader", "true");
            res.setHeader("X-Consul-LastContact", "0");
            const send = (status: number, body: unknown) => {
                res.writeHead(status, { "Content-Type": "application/json" });
                res.end(body === undefined ? "" : JSON.stringify(body));
            };
            if (options.token !== undefined && token !== options.token) {
                res.writeHead(403, { "Content-Type": "text/plain" });
                res.end("Permission denied: token not found");
                return;
            }
            const dc = url.searchParams.get("dc");
            if (dc !== null && dc !== datacenter) {
                return send(500, `No path to datacenter ${dc}`);
            }
            const catalog = catalogRequest(req.method ?? "", url.pathname, body);
            if (catalog) {
                return send(catalog[0], catalog[1]);
            }
            if (url.pathname === "/v1/agent/self" && req.method === "GET") {
                return send(200, { Config: { Datacenter: datacenter, NodeName: "fake" }, Member: {} });
            }
            if (url.pathname === "/v1/status/leader" && req.method === "GET") {
                return send(200, "127.0.0.1:8300");
            }
            if (!url.pathname.startsWith("/v1/kv/")) {
                return send(404, undefined);
            }
            const key = decodeURIComponent(url.pathname.slice("/v1/kv/".length));
            const recurse = url.searchParams.has("recurse");
            const under = () => [...kv.keys()].filter((k) => k.startsWith(key)).sort();
            switch (req.method) {
                case "PUT":
                    kv.set(key, body);
                    flags.set(key, Number(url.searchParams.get("flags") ?? 0));
                    modifyIndex.set(key, ++index);
                    return send(200, true);
                case "DELETE":
                    for (const k of recurse ? under() : [key]) {
                        kv.delete(k);
                        flags.delete(k);
                    }
                    index++;
                    return send(200, true);
                case "GET": {
                    const keys = recurse ? under() : kv.has(key) ? [key] : [];
                    if (keys.length === 0) {
                        return send(404, undefined);
                    }
                    return send(200, keys.map(entry));
                }
                default:
                    return send(405, undefined);
            }
        });
    });
    /** [status, body] for a catalog request, or undefined when PATH is not one. */
    function catalogRequest(method: string, path: string, body: string): [number, unknown] | undefined {
        if (method === "PUT" && path === "/v1/catalog/register") {
            const r = JSON.parse(body) as {
                Node: string;
                Address: string;
                NodeMeta?: Record<string, string> | null;
                SkipNodeUpdate?: boolean;
                Service?: Partial<FakeService> | null;
            };
            let n = nodes.get(r.Node);
            if (!n) {
                n = { Node: r.Node, Address: r.Address, Meta: r.NodeMeta ?? null, services: new Map() };
                nodes.set(r.Node, n);
            } else if (!r.SkipNodeUpdate) {
                n.Address = r.Address;
                n.Meta = r.NodeMeta ?? null;
            }
            if (r.Service) {
                const svc = r.Service;
                const id = svc.ID || svc.Service || "";
                n.services.set(id, {
                    ID: id,
                    Service: svc.Service ?? "",
                    Address: svc.Address ?? "",
                    Port: svc.Port ?? 0,
                    Tags: svc.Tags ?? null,
                    Meta: svc.Meta ?? null,
                    Weights: svc.Weights,
                    EnableTagOverride: svc.EnableTagOverride,
                });
            }
            index++;
            return [200, true];
        }
        if (method === "PUT" && path === "/v1/catalog/deregister") {
            const r = JSON.parse(body) as { Node: string; ServiceID?: string };
            if (r.ServiceID) {
                nodes.get(r.Node)?.services.delete(r.ServiceID);
            } else {
                nodes.delete(r.Node);
            }
            index++;
            return [200, true];
        }
        if (method === "GET" && path.startsWith("/v1/catalog/node/")) {
            const n = nodes.get(decodeURIComponent(path.slice("/v1/catalog/node/".length)));
            if (!n) {
                return [200, null]; // as Consul: an unknown node is null, not 404
            }
            return [200, { Node: nodeJson(n), Services: Object.fromEntries([...n.services].map(([id, s]) => [id, serviceJson(s)])) }];
        }
        if (method === "GET" && path.startsWith("/v1/catalog/service/")) {
            const name = decodeURIComponent(path.slice("/v1/catalog/service/".length));
            const out = [];
            for (const n of nodes.values()) {
                for (const s of n.services.values()) {
                    if (s.Service !== name) {
                        continue;
                    }
                    const j = serviceJson(s);
                    out.push({
                        ID: "",
                        Node: n.Node,
                        Address: n.Address,
                        Datacenter: datacenter,
                        TaggedAddresses: null,
                        NodeMeta: n.Meta ?? {},
                        ServiceID: j.ID,
                        ServiceName: j.Service,
                        ServiceAddress: j.Address,
                        ServiceTags: j.Tags,
                        ServiceMeta: j.Meta,
                        ServicePort: j.Port,
                        ServiceWeights: j.Weights,
                        ServiceEnableTagOverride: j.EnableTagOverride,
                        CreateIndex: index,
                        ModifyIndex: index,
                    });
                }
            }
            return [200, out];
        }
        return undefined;
    }

    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return {
        address: `127.0.0.1:${port}`,
        kv,
        requests,
        details,
        nodes,
        close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
}
