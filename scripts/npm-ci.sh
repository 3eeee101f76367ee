#!/usr/bin/env bash
# Installs node_modules exactly from package-lock.json, once per lock file content.
# --ignore-scripts: @pulumi/command's install script runs `pulumi plugin install`, which needs
# the Pulumi download site; our plugins are built by toolchain/install.sh instead.
set -euo pipefail
cd "$(dirname "$0")/.."
want=$(sha256sum package-lock.json | cut -c1-64)
if [ "$(cat node_modules/.docker-overlay-lock 2>/dev/null)" != "$want" ]; then
    npm ci --ignore-scripts --no-audit --no-fund
    echo "$want" > node_modules/.docker-overlay-lock
else
    echo "node_modules matches package-lock.json"
fi
