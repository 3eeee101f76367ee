// A minimal fake of Consul's KV HTTP API, served on 127.0.0.1 only, for the toolchain smoke
// test: no Consul server can be had on this machine (docs/toolchain.md). It implements what
// the Consul provider's `consul.Keys` uses: PUT/GET/DELETE /v1/kv/<key> (and /v1/agent/self
// for the datacenter) and records every request so the test can check what the provider did.
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
    method: string;
    path: string;
}

export interface FakeConsul {
    /** host:port to give the provider as `address`. */
    address: string;
    /** The KV store: key -> value. */
    kv: Map<string, string>;
    /** Every request, in order. */
    requests: RecordedRequest[];
    close(): Promise<void>;
}

export async function startFakeConsul(datacenter = "dc1"): Promise<FakeConsul> {
    const kv = new Map<string, string>();
    const modifyIndex = new Map<string, number>();
    const requests: RecordedRequest[] = [];
    let index = 1;

    const server = http.createServer((req, res) => {
        const url = new URL(req.url ?? "/", "http://127.0.0.1");
        requests.push({ method: req.method ?? "", path: url.pathname });
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            // The Consul API client reads these on every query answer.
            res.setHeader("X-Consul-Index", String(index));
            res.setHeader("X-Consul-KnownLeader", "true");
            res.setHeader("X-Consul-LastContact", "0");
            const send = (status: number, body: unknown) => {
                res.writeHead(status, { "Content-Type": "application/json" });
                res.end(body === undefined ? "" : JSON.stringify(body));
            };
            const dc = url.searchParams.get("dc");
            if (dc !== null && dc !== datacenter) {
                return send(500, `No path to datacenter ${dc}`);
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
            switch (req.method) {
                case "PUT":
                    kv.set(key, Buffer.concat(chunks).toString("utf8"));
                    modifyIndex.set(key, ++index);
                    return send(200, true);
                case "DELETE":
                    kv.delete(key);
                    index++;
                    return send(200, true);
                case "GET": {
                    const value = kv.get(key);
                    if (value === undefined) {
                        return send(404, undefined);
                    }
                    const i = modifyIndex.get(key) ?? index;
                    return send(200, [
                        {
                            Key: key,
                            Value: Buffer.from(value, "utf8").toString("base64"),
                            Flags: 0,
                            CreateIndex: i,
                            ModifyIndex: i,
                            LockIndex: 0,
                        },
                    ]);
                }
                default:
                    return send(405, undefined);
            }
        });
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return {
        address: `127.0.0.1:${port}`,
        kv,
        requests,
        close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
}
