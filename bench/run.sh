#!/usr/bin/env bash
# `npm run bench`: the benchmark (bench/bench.ts says what it measures). Sets up what it needs
# like scripts/lab-up.sh does (toolchain, packages, the compiled program, iputils ping and
# iperf3 from Debian), then runs the bench, which builds and removes lab hosts itself under the
# lab's session lock. Prints figures; fails only when a step itself fails. Takes 7-8 min on
# 2 cores, plus any wait for the lab.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    echo "npm run bench needs root: it builds lab hosts (network namespaces, dockerd, sshd) like npm run lab." >&2
    exit 1
fi
# shellcheck source=scripts/prepare.sh
source scripts/prepare.sh
missing=()
command -v iperf3 >/dev/null || missing+=(iperf3)
# Debian's iputils ping: busybox's has no -M (DF), which the MTU proof needs.
ping -V 2>/dev/null | grep -q iputils || missing+=(iputils-ping)
if ((${#missing[@]})); then
    say "Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
        { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
fi
say "compile the program (bench/out/bin)"
rm -rf bench/out/bin && npx tsc -p tsconfig.program.json --outDir bench/out/bin
# The host scripts next to the compiled components, where components/hostScripts.ts looks first.
cp -r components/host-scripts bench/out/bin/components/host-scripts
cp components/keyHolders.cjs bench/out/bin/components/
say "bench"
# (the warning: Node reparses the file as ESM, as for scripts/lab.ts)
node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON bench/bench.ts
say "finished"
