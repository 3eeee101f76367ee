#!/usr/bin/env bash
# `npm run lab:down`: destroys the lab stack (every host back as it was), then removes the lab
# itself: processes, namespaces, links, iptables rules, mounts and state.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "npm run lab:down needs root, like npm run lab." >&2; exit 1; fi
if [ -s /var/lib/docker-overlay-lab/lab.json ] && bash lab/lab.sh status >/dev/null 2>&1; then
    # shellcheck source=toolchain/env.sh
    source toolchain/env.sh
    rm -rf bin && npx tsc -p tsconfig.program.json
    node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON scripts/lab.mts destroy || echo "destroy failed; removing the lab anyway (its hosts go with it)" >&2
fi
bash lab/lab.sh down
rm -rf "${DOCKER_OVERLAY_WORK:-${XDG_STATE_HOME:-$HOME/.local/state}/docker-overlay/stacks}/lab"
