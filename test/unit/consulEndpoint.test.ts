// Which Consul server the stack's provider goes through in a cluster: the first that answers with
// a leader, else the first. consulAnswers against a local HTTP server on 127.0.0.1.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { consulAnswers, consulKey, pickConsulServer } from "../../components/consulEndpoint";

const servers = ["lab1", "lab2", "lab3"].map((name, i) => ({ name, address: `10.210.0.1${i + 1}` }));

describe("pickConsulServer", () => {
    it("takes the first server that answers, and says which were skipped", async () => {
        const r = await pickConsulServer(servers, async (s) => s.name !== "lab1");
        expect(r).toEqual({ server: servers[1], skipped: [servers[0]], kept: false });
    });
    it("takes the first server when it answers, skipping none", async () => {
        expect(await pickConsulServer(servers, async () => true)).toEqual({ server: servers[0], skipped: [], kept: false });
    });
    it("takes the first server when none answers (before the first up), without asking for the last one", async () => {
        const asked: string[] = [];
        const r = await pickConsulServer(servers, async () => false, async (via) => (asked.push(via.name), "lab2"));
        expect(r).toEqual({ server: servers[0], skipped: [], kept: false });
        expect(asked).toEqual([]);
    });
    it("keeps the server the last up went through while it answers, asking through the first that answers", async () => {
        const asked: string[] = [];
        const last = async (via: { name: string }) => (asked.push(via.name), "lab3");
        expect(await pickConsulServer(servers, async () => true, last)).toEqual({ server: servers[2], skipped: [], kept: true });
        expect(asked).toEqual(["lab1"]);
        // lab1 down: asked through lab2; lab1 is named as not answering.
        expect(await pickConsulServer(servers, async (s) => s.name !== "lab1", last)).toEqual({ server: servers[2], skipped: [servers[0]], kept: true });
        expect(asked).toEqual(["lab1", "lab2"]);
    });
    it("moves off the last server when it does not answer, or when the record names none of the servers", async () => {
        expect(await pickConsulServer(servers, async (s) => s.name !== "lab2", async () => "lab2")).toEqual({ server: servers[0], skipped: [], kept: false });
        expect(await pickConsulServer(servers, async (s) => s.name !== "lab1", async () => "lab9")).toEqual({ server: servers[1], skipped: [servers[0]], kept: false });
        expect(await pickConsulServer(servers, async () => true, async () => undefined)).toEqual({ server: servers[0], skipped: [], kept: false });
    });
});

describe("consulAnswers", () => {
    async function serve(status: number, body: string, delayMs = 0): Promise<{ port: number; close: () => void }> {
        const srv = http.createServer((req, res) => {
            expect(req.url).toBe("/v1/status/leader");
            setTimeout(() => res.writeHead(status).end(body), delayMs);
        });
        await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
        return { port: (srv.address() as AddressInfo).port, close: () => (srv.closeAllConnections(), srv.close()) };
    }
    it("is true for a leader, false for none, an error, silence or a closed port", async () => {
        for (const [status, body, want] of [
            [200, '"10.210.0.11:8300"', true],
            [200, '""', false],
            [500, "No cluster leader", false],
        ] as const) {
            const s = await serve(status, body);
            expect(await consulAnswers("127.0.0.1", s.port), `${status} ${body}`).toBe(want);
            s.close();
        }
        const slow = await serve(200, '"x:8300"', 2000);
        expect(await consulAnswers("127.0.0.1", slow.port, { timeoutMs: 300 })).toBe(false);
        slow.close();
        expect(await consulAnswers("127.0.0.1", slow.port, { timeoutMs: 300 })).toBe(false);
    });
});

describe("consulKey", () => {
    it("reads a key's raw value with the ACL token in a header; undefined when absent, refused or closed", async () => {
        const seen: { url?: string; token?: string | string[] }[] = [];
        const srv = http.createServer((req, res) => {
            seen.push({ url: req.url, token: req.headers["x-consul-token"] });
            if (req.url === "/v1/kv/docker-overlay/dev/registryServer?raw") res.writeHead(200).end("lab2\n");
            else if (req.url === "/v1/kv/docker-overlay/denied?raw") res.writeHead(403).end("Permission denied");
            else res.writeHead(404).end();
        });
        await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
        const port = (srv.address() as AddressInfo).port;
        expect(await consulKey("127.0.0.1", port, "docker-overlay/dev/registryServer", { token: "t0k" })).toBe("lab2");
        expect(seen[0]).toEqual({ url: "/v1/kv/docker-overlay/dev/registryServer?raw", token: "t0k" });
        expect(await consulKey("127.0.0.1", port, "docker-overlay/none")).toBeUndefined();
        expect(seen[1]!.token).toBeUndefined();
        expect(await consulKey("127.0.0.1", port, "docker-overlay/denied")).toBeUndefined();
        srv.closeAllConnections();
        srv.close();
        expect(await consulKey("127.0.0.1", port, "docker-overlay/dev/registryServer", { timeoutMs: 300 })).toBeUndefined();
    });
});
