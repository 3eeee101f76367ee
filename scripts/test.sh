#!/usr/bin/env bash
# `npm test`: installs everything the tests need (toolchain, packages, linters, the lab's Debian
# packages), then runs every test: fast ones (unit, mocks, host scripts) in parallel, then the
# ones that share this machine's Docker hosts (toolchain smoke test, lab, end-to-end) one at a
# time. Prints one closing line "N passed, N failed".
#
# Environment: DOCKER_OVERLAY_CACHE (default ~/.cache/docker-overlay) holds everything built;
# TEST_ONLY=fast skips the slow group (no root needed for the fast group).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/prepare.sh
source scripts/prepare.sh
cache=${DOCKER_OVERLAY_CACHE:-$HOME/.cache/docker-overlay}

say "linters"
# shellcheck disable=SC1091
source toolchain/versions.env
export ACTIONLINT="$cache/bin/actionlint-$ACTIONLINT_VERSION"
if [ ! -x "$ACTIONLINT" ]; then
    mkdir -p "$cache/bin/tmp"
    GOBIN="$cache/bin/tmp" go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
    mv "$cache/bin/tmp/actionlint" "$ACTIONLINT"
fi
# Linting the host scripts needs shellcheck; the topology picture's test draws it with Graphviz's dot.
for tool in shellcheck:shellcheck dot:graphviz; do
    if ! command -v "${tool%%:*}" >/dev/null; then
        if [ "$(id -u)" = 0 ]; then
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${tool#*:}" >/dev/null
        else
            echo "${tool%%:*} is missing: install it (sudo apt-get install ${tool#*:}) or run as root" >&2
            exit 1
        fi
    fi
done

out="$cache/test-results"
mkdir -p "$out"
rm -f "$out"/*.json
status=0

say "type-check"
npx tsc --noEmit -p . || status=1

say "fast tests: unit, mocks, host scripts, workflow"
npx vitest run test/unit test/mocks test/host-scripts --reporter=default --reporter=json --outputFile.json="$out/fast.json" || status=1

if [ "${TEST_ONLY:-}" != fast ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "The toolchain smoke test, the lab and the end-to-end tests start Docker daemons in network namespaces: run npm test as root." >&2
        exit 1
    fi
    say "slow tests, one file at a time: toolchain smoke, lab, end-to-end"
    slow=()
    for d in test/toolchain test/lab test/e2e; do [ -d "$d" ] && slow+=("$d"); done
    DOCKER_OVERLAY_SERIAL=1 npx vitest run "${slow[@]}" --no-file-parallelism --reporter=default --reporter=json --outputFile.json="$out/slow.json" || status=1
fi

if [ "${TEST_ONLY:-}" != fast ]; then
    say "lab teardown"
    bash lab/lab.sh down
fi

say "summary"
node scripts/test-summary.ts "$out"/*.json || status=1
exit $status
