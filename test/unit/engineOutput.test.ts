// The lab runner's filter of the engine's output (scripts/labStack.ts engineOutput): pure, no engine.
import { describe, expect, it } from "vitest";
import { engineOutput } from "../../scripts/labStack";

const BIN = "/root/.cache/docker-overlay/toolchain/pulumi-3.260.0-x/bin";

function run(chunks: string[], bin: string | null = BIN): string {
    let out = "";
    const o = engineOutput((s) => (out += s), bin ?? undefined);
    for (const c of chunks) o.onOutput(c);
    o.flush();
    return out;
}

describe("engineOutput", () => {
    it("drops Pulumi's warning about each toolchain plugin taken from PATH, plain or coloured, and keeps every other line in order", () => {
        const text = [
            "Previewing update (lab):",
            `warning: using pulumi-resource-docker from $PATH at ${BIN}/pulumi-resource-docker`,
            `\x1b[33mwarning: \x1b[0musing pulumi-resource-command from $PATH at ${BIN}/pulumi-resource-command`,
            `warning: using pulumi-language-nodejs from $PATH at ${BIN}/pulumi-language-nodejs expected /usr/bin/pulumi-language-nodejs`,
            ` +  pulumi:pulumi:Stack docker-overlay-lab create warning: using pulumi-resource-consul from $PATH at ${BIN}/pulumi-resource-consul`,
            "Diagnostics:",
            `    warning: using pulumi-resource-docker from $PATH at ${BIN}/pulumi-resource-docker`,
            "warning: docker-overlay: lab3: something that matters",
            " +  docker:index:Container gateway create",
            "",
        ].join("\n");
        expect(run([text])).toBe("Previewing update (lab):\nDiagnostics:\nwarning: docker-overlay: lab3: something that matters\n +  docker:index:Container gateway create\n");
    });

    it("joins lines split across chunks before deciding, and writes an unfinished last line at flush", () => {
        const warning = `warning: using pulumi-resource-consul from $PATH at ${BIN}/pulumi-resource-consul\n`;
        expect(run(["Upd", "ating\nwarn", warning.slice(4), "done"])).toBe("Updating\ndone");
    });

    it("keeps the warning for a plugin from anywhere else, or when no toolchain is in use", () => {
        const stray = "warning: using pulumi-resource-docker from $PATH at /usr/local/bin/pulumi-resource-docker\n";
        expect(run([stray])).toBe(stray);
        const renamed = `warning: using pulumi-resource-docker from $PATH at ${BIN}/other-binary\n`;
        expect(run([renamed])).toBe(renamed);
        const ours = `warning: using pulumi-resource-docker from $PATH at ${BIN}/pulumi-resource-docker\n`;
        expect(run([ours], null)).toBe(ours);
    });
});
