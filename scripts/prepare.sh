#!/usr/bin/env bash
# scripts/prepare.sh: sourced (from the repository's root) by the npm scripts that need the
# toolchain: `npm run lab` (scripts/lab-up.sh), `npm run bench` (bench/run.sh) and `npm test`
# (scripts/test.sh). Builds or reuses the toolchain, puts it on PATH, installs the packages, and
# defines say(), which prints a section heading with the seconds since the job started.
started=${started:-$(date +%s)}
say() { printf '\n== %s (%ss)\n' "$*" "$(($(date +%s) - started))"; }

say "toolchain (built once, then cached)"
bash toolchain/install.sh
# shellcheck source=toolchain/env.sh
source toolchain/env.sh
say "packages"
bash scripts/npm-ci.sh
