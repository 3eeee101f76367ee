#!/usr/bin/env bash
# `npm run lab`: the main job on the embedded default. Builds the toolchain (first run only),
# starts a lab of LAB_HOSTS (default 3) Docker hosts on this machine, and runs `pulumi up` of the
# lab stack on it, printing each service's overlay address and the connectivity report.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    echo "npm run lab needs root: the lab creates network namespaces, a bridge and one dockerd and sshd per host." >&2
    echo "Run it as root (e.g. sudo -E npm run lab), or point the stack at your own servers (README, Quick start)." >&2
    exit 1
fi
# shellcheck source=scripts/prepare.sh
source scripts/prepare.sh
say "compile the program"
rm -rf bin && npx tsc -p tsconfig.program.json
say "lab hosts"
bash lab/lab.sh up "${LAB_HOSTS:-3}"
say "lab stack"
# labStack.ts (ESM syntax, shared with the tests) is loaded by Node's type stripping in a package
# with no "type": Node says so on every run; the warning is about our packaging, not the lab.
node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON scripts/lab.mts up
say "finished"
