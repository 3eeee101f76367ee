// Which overlay address the stack uses for a container after a rejoin (components/overlayRejoin.ts).
import { describe, expect, it } from "vitest";
import { currentAddress, parseRejoinReport } from "../../components/overlayRejoin";

describe("currentAddress", () => {
    const report = { c1: { before: "10.0.1.2", after: "10.0.1.7" } };
    it("takes the rejoin's new address while the provider still reads the one from before (refreshed before the rejoin, same up)", () => {
        expect(currentAddress("c1", "10.0.1.2", report)).toBe("10.0.1.7");
    });
    it("takes the provider's once it reads another (a later refresh: the container moved again)", () => {
        expect(currentAddress("c1", "10.0.1.9", report)).toBe("10.0.1.9");
        expect(currentAddress("c1", "10.0.1.7", report)).toBe("10.0.1.7");
    });
    it("takes the provider's for a container the rejoin did not restart, or with no report", () => {
        expect(currentAddress("c2", "10.0.1.3", report)).toBe("10.0.1.3");
        expect(currentAddress("c1", "10.0.1.2", undefined)).toBe("10.0.1.2");
        expect(currentAddress("c1", "10.0.1.2", { c1: { before: "10.0.1.2", after: "" } })).toBe("10.0.1.2");
    });
});

describe("parseRejoinReport", () => {
    it("reads the script's report and ignores anything else", () => {
        expect(parseRejoinReport('{"addresses":{"c1":{"before":"a","after":"b"},"bad":"x"}}')).toEqual({ c1: { before: "a", after: "b" } });
        expect(parseRejoinReport("docker-overlay: lab1: no running container")).toEqual({});
        expect(parseRejoinReport("")).toEqual({});
        expect(parseRejoinReport('{"addresses":null}')).toEqual({});
    });
});
