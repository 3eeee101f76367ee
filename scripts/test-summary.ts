// Adds up vitest's JSON reports and prints the closing line CI reads: "N passed, N failed".
import * as fs from "node:fs";

interface Report {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
    numTodoTests: number;
    numTotalTestSuites: number;
    testResults: { name: string; status: string; message?: string }[];
}

let passed = 0;
let failed = 0;
let skipped = 0;
const files = process.argv.slice(2).filter((f) => fs.existsSync(f));
if (files.length === 0) {
    console.error("no test reports found");
    process.exit(1);
}
for (const file of files) {
    const r = JSON.parse(fs.readFileSync(file, "utf8")) as Report;
    passed += r.numPassedTests;
    failed += r.numFailedTests;
    skipped += r.numPendingTests + r.numTodoTests;
    // A file that failed to load counts as a failure even though no test inside it ran.
    for (const t of r.testResults) if (t.status === "failed" && t.message) { failed += 1; console.error(`failed to run: ${t.name}: ${t.message.split("\n")[0]}`); }
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
