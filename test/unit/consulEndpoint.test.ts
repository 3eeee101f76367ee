// Which Consul server the stack's provider goes through in a cluster: the first that answers with
// a leader, else the first. consulAnswers against a local HTTP server on 127.0.0.1.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { consulAnswers, pickConsulServer } from "../../components/consulEndpoint";

const servers = ["lab1", "lab2", "lab3"].map((name, i) => ({ name, address: `10.210.0.1${i + 1}` }));

describe("pickConsulServer", () => {
    it("takes the first server that answers, and says which were skipped", async () => {
        const r = await pickConsulServer(servers, async (s) => s.name !== "lab1");
        expect(r).toEqual({ server: servers[1], skipped: [servers[0]] });
    });
    it("takes the first server when it answers, skipping none", async () => {
        expect(await pickConsulServer(servers, async () => true)).toEqual({ server: servers[0], skipped: [] });
    });
    it("takes the first server when none answers (before the first up)", async () => {
        expect(await pickConsulServer(servers, async () => false)).toEqual({ server: servers[0], skipped: [] });
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
        expect(await consulAnswers("127.0.0.1", slow.port, 300)).toBe(false);
        slow.close();
        expect(await consulAnswers("127.0.0.1", slow.port, 300)).toBe(false);
    });
});
