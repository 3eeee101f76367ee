// How long the SSH private key file lives on the machine that runs Pulumi: while some Pulumi run
// needs it, and not after. Each run that writes the file (sshFiles.ts) records a holder, the PID
// of the process whose end ends the run (the `pulumi` CLI); a small detached reaper (this file,
// run by node) waits for that process to end, removes the holder and, when no holder is alive,
// the key. Two runs with the same key share one file (its name is a hash of its content), so
// every change of holders and of the file is made under one lock.
//
// Plain CommonJS so that node runs it as it is, without TypeScript, as the reaper; sshFiles.ts
// requires the same functions.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

/** True while process PID exists (EPERM: it exists, owned by someone else). */
function alive(pid) {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return e.code === "EPERM";
    }
}

function sleepMs(ms) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Runs FN holding `FILE.lock` (a directory: mkdir is atomic). A lock older than 10 s is stale. */
function withLock(file, fn) {
    const lock = `${file}.lock`;
    for (let i = 0; ; i++) {
        try {
            fs.mkdirSync(lock, { mode: 0o700 });
            break;
        } catch (e) {
            if (e.code !== "EEXIST") throw e;
            try {
                if (Date.now() - fs.statSync(lock).mtimeMs > 10_000) fs.rmSync(lock, { recursive: true, force: true });
            } catch {
                // gone meanwhile
            }
            if (i > 400) throw new Error(`docker-overlay: ${lock} is held by another run for too long; remove it if no Pulumi run is going on`);
            sleepMs(25);
        }
    }
    try {
        return fn();
    } finally {
        fs.rmSync(lock, { recursive: true, force: true });
    }
}

const holdersOf = (file) => `${file}.holders`;

/** Records HOLDER as a user of FILE and writes FILE with CONTENT (mode 0600) if it is missing. */
function hold(file, content, holder) {
    withLock(file, () => {
        fs.mkdirSync(holdersOf(file), { recursive: true, mode: 0o700 });
        fs.writeFileSync(path.join(holdersOf(file), String(holder)), "");
        if (!fs.existsSync(file)) {
            const tmp = `${file}.${process.pid}.tmp`;
            fs.writeFileSync(tmp, content, { mode: 0o600 });
            fs.renameSync(tmp, file);
        }
    });
}

/** HOLDER is done: forgets it and every holder that no longer runs; removes FILE when none is left. */
function release(file, holder) {
    return withLock(file, () => {
        const dir = holdersOf(file);
        let left = [];
        try {
            left = fs.readdirSync(dir);
        } catch {
            left = [];
        }
        const live = left.filter((h) => h !== String(holder) && /^\d+$/.test(h) && alive(Number(h)));
        for (const h of left) if (!live.includes(h)) fs.rmSync(path.join(dir, h), { force: true });
        if (live.length > 0) return false;
        fs.rmSync(file, { force: true });
        fs.rmSync(dir, { recursive: true, force: true });
        return true;
    });
}

module.exports = { alive, hold, release, withLock };

// As the reaper: `node keyHolders.cjs PID FILE` waits for PID to end, then releases FILE.
if (require.main === module) {
    const [pid, file] = [Number(process.argv[2]), process.argv[3]];
    const timer = setInterval(() => {
        if (alive(pid)) return;
        clearInterval(timer);
        release(file, pid);
    }, 250);
}
