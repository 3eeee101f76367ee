// The lab runner: `pulumi up` (or destroy) of the lab stack on the local lab, through the
// Automation API with the program inline. Run by scripts/lab-up.sh and scripts/lab-down.sh after
// the toolchain and the lab are in place and the program is compiled to bin/.
//
//   node scripts/lab.mts up      preview, then up; prints the outputs
//   node scripts/lab.mts destroy  destroys the stack (hosts back as they were)
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import * as fs from "node:fs";
import * as path from "node:path";
import type * as LabStack from "./labStack";

// Node runs this file as ESM, which needs the ".ts" on a relative import; the project's
// tsconfig must not allow that (Pulumi's ts-node refuses `allowImportingTsExtensions`), so the
// module is loaded by a name the compiler does not check, with its types imported above.
const LAB_STACK_MODULE = "./labStack.ts";
const loadLabStack = () => import(LAB_STACK_MODULE) as Promise<typeof LabStack>;

const action = process.argv[2] ?? "up";
const t0 = Date.now();
const since = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const phase = (what: string) => console.log(`\n== ${what} (${since()})`);

async function run(): Promise<void> {
    const { defaultWorkDir, engineOutput, labConfig, openStack, readLab, REPO } = await loadLabStack();
    const workDir = defaultWorkDir("lab");
    const lab = readLab();
    const { main } = createRequire(path.join(REPO, "package.json"))("./bin/program.js") as { main: () => Record<string, unknown> };
    const stack = await openStack({
        stackName: "lab",
        workDir,
        config: labConfig(lab),
        privateKey: fs.readFileSync(lab.privateKeyPath, "utf8"),
        program: () => main(),
    });
    // Without the toolchain's "plugin from $PATH" warnings; colours only on a terminal (a log
    // file gets plain text).
    const output = engineOutput((s) => process.stdout.write(s), process.env.DOCKER_OVERLAY_TOOLCHAIN_BIN);
    const onOutput = output.onOutput;
    const color = process.stdout.isTTY ? "always" : "never";
    if (action === "destroy") {
        phase("pulumi destroy of the lab stack");
        // --run-program: the docker provider's SSH key file exists only while a run holds it
        // (components/sshFiles.ts); running the program writes it again for this run.
        await stack.destroy({ onOutput, color, runProgram: true });
        output.flush();
        phase("done");
        return;
    }
    phase("pulumi preview of the lab stack");
    await stack.preview({ onOutput, color, diff: false });
    output.flush();
    phase("pulumi up of the lab stack");
    const up = await stack.up({ onOutput, color });
    output.flush();
    phase("stack outputs");
    const { topology, topologyDot, ...rest } = up.outputs;
    const out = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, v.secret ? "[secret]" : v.value]));
    console.log(JSON.stringify(out, null, 2));
    if (typeof topology?.value === "string") {
        // The picture of what up built: Mermaid text (GitHub and most editors draw it), and an
        // SVG drawn by Graphviz from the same model (lab.sh installs Debian's graphviz).
        const mermaid = path.join(workDir, "topology.mmd");
        fs.writeFileSync(mermaid, topology.value);
        phase(`topology (Mermaid, also in ${mermaid})`);
        console.log(topology.value);
        const svg = path.join(workDir, "topology.svg");
        const drawn = spawnSync("dot", ["-Tsvg", "-o", svg], { input: String(topologyDot?.value ?? ""), encoding: "utf8" });
        console.log(drawn.status === 0 ? `The same picture as an SVG: ${svg}` : `No SVG (Graphviz's dot: ${drawn.error?.message ?? drawn.stderr.trim()}); the Mermaid text above has it all.`);
    }
    console.log(`\nThe lab's state and stack file are in ${workDir}. Tear it all down with: npm run lab:down`);
}

run().catch((e: unknown) => {
    // The engine's own output has already named the resource and the error; keep this short.
    const msg = e instanceof Error ? e.message : String(e);
    console.error(`\nlab ${action} failed after ${since()}:\n${msg.split("\n").slice(-30).join("\n")}`);
    process.exit(1);
});
