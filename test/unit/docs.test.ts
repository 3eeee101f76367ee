// The manual's links: every relative link in README.md, docs/, bench/README.md and examples/
// points at a file of the repository, and every #anchor at a heading of that file (GitHub's
// slugs). Links to other sites are not followed (no network here).
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const repo = path.resolve(__dirname, "../..");

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
    return heading
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, "")
        .replace(/\s/g, "-");
}

function headings(file: string): Set<string> {
    const out = new Set<string>();
    let fenced = false;
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
        if (line.startsWith("```")) fenced = !fenced;
        const m = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
        if (m) out.add(slug(m[1]!));
    }
    return out;
}

/** Every markdown link [text](target) outside code fences and inline code, with its line. */
function links(file: string): { target: string; line: number }[] {
    const out: { target: string; line: number }[] = [];
    let fenced = false;
    fs.readFileSync(file, "utf8")
        .split("\n")
        .forEach((line, i) => {
            if (line.startsWith("```")) fenced = !fenced;
            if (fenced) return;
            for (const m of line.replace(/`[^`]*`/g, "").matchAll(/\]\(([^)\s]+)\)/g)) out.push({ target: m[1]!, line: i + 1 });
        });
    return out;
}

const docs = [
    "README.md",
    "bench/README.md",
    ...fs.readdirSync(path.join(repo, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`),
    ...(fs.existsSync(path.join(repo, "examples"))
        ? fs.readdirSync(path.join(repo, "examples"), { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".md") && !f.includes("node_modules")).map((f) => `examples/${f}`)
        : []),
].filter((f) => fs.existsSync(path.join(repo, f)));

describe("the manual's links", () => {
    it("slug is GitHub's", () => {
        expect(slug("What `pulumi up` does")).toBe("what-pulumi-up-does");
        expect(slug("The seed's recipe, step by step")).toBe("the-seeds-recipe-step-by-step");
        expect(slug("Quick start: no servers needed (the local lab)")).toBe("quick-start-no-servers-needed-the-local-lab");
    });

    it.each(docs)("%s: every relative link and anchor resolves", (doc) => {
        const file = path.join(repo, doc);
        const broken: string[] = [];
        for (const { target, line } of links(file)) {
            if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:: not followed here
            const [p, anchor] = target.split("#") as [string, string | undefined];
            const dest = p === "" ? file : path.resolve(path.dirname(file), decodeURIComponent(p));
            if (!fs.existsSync(dest)) broken.push(`line ${line}: ${target} (no such file)`);
            else if (anchor !== undefined && dest.endsWith(".md") && !headings(dest).has(anchor)) broken.push(`line ${line}: ${target} (no such heading)`);
        }
        expect(broken).toEqual([]);
    });
});
