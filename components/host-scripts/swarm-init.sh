#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# swarm-init: make this daemon the first manager of a new swarm, unless it already manages one.
#
# An active manager is left alone. A worker (in someone's swarm) is refused: this host cannot
# start our swarm without leaving theirs, and docker-overlay never does that. Otherwise it runs
# `docker swarm init --advertise-addr ADVERTISE_ADDRESS [--data-path-port DATA_PATH_PORT]` and
# writes $STATE_DIR/swarm-created (holding the node ID) so that swarm-leave undoes only what we did.
# Prints one JSON line: {"nodeId":"...","created":true|false}; "created" says whether
# docker-overlay created this node's swarm (on this run or an earlier one).
#
# @var ADVERTISE_ADDRESS required: address (or interface) other nodes reach this manager at
# @var DATA_PATH_PORT optional: VXLAN data-path port (default Docker's 4789)
# @var DOCKER optional: docker CLI to use (default docker)
# @var STATE_DIR optional: docker-overlay's state directory on the host (default /var/lib/docker-overlay)
# @var HOST_LABEL optional: this host's name in messages (default: uname -n)
# @var OWNER optional: "<project>/<stack>" of the run; another stack's host is refused, exit 6 (lib/owner.sh)
set -euo pipefail

DATA_PATH_PORT=${DATA_PATH_PORT:-}
DOCKER=${DOCKER:-docker}
STATE_DIR=${STATE_DIR:-/var/lib/docker-overlay}
HOST_LABEL=${HOST_LABEL:-$(uname -n)}

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # @include
# shellcheck source=lib/swarm-hint.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/swarm-hint.sh" # @include
# shellcheck source=lib/owner.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/owner.sh" # @include

[[ -n ${ADVERTISE_ADDRESS-} ]] || die 5 "ADVERTISE_ADDRESS is required and was not given (see the @var lines at the top of this script)"

dk() { timeout 60 "$DOCKER" "$@"; }
marker=$STATE_DIR/swarm-created

if [[ -n $DATA_PATH_PORT && ! $DATA_PATH_PORT =~ ^[0-9]+$ ]]; then die 5 "DATA_PATH_PORT must be a port number, got '$DATA_PATH_PORT'"; fi

lock_host
claim_host

if ! state=$(dk info --format '{{.Swarm.LocalNodeState}}' 2>&1); then
  die 1 "Docker is not answering ($(one_line "$state")); start Docker and run again"
fi
case $state in
  active)
    control=$(dk info --format '{{.Swarm.ControlAvailable}}')
    if [[ $control != true ]]; then
      die 1 "this node is a worker in a swarm already; it cannot start a new one without leaving that swarm, which docker-overlay will not do. Run docker swarm leave on it by hand if it should be part of this cluster, or make it a manager of that swarm."
    fi
    node_id=$(dk info --format '{{.Swarm.NodeID}}')
    created=false
    if [[ -e $marker ]]; then created=true; fi
    printf 'docker-overlay: %s: already a swarm manager; left alone\n' "$HOST_LABEL" >&2
    ;;
  inactive)
    args=(swarm init --advertise-addr "$ADVERTISE_ADDRESS")
    if [[ -n $DATA_PATH_PORT ]]; then args+=(--data-path-port "$DATA_PATH_PORT"); fi
    if ! out=$(dk "${args[@]}" 2>&1); then
      die 1 "docker swarm init --advertise-addr $ADVERTISE_ADDRESS failed: $(one_line "$out"). $(swarm_hint "$out" "" manager)"
    fi
    node_id=$(dk info --format '{{.Swarm.NodeID}}')
    install -d -m 0700 -- "$STATE_DIR"
    printf '%s\n' "$node_id" >"$marker"
    created=true
    ;;
  *)
    die 1 "this node's swarm state is '$state' (not active or inactive); look at docker info and fix it by hand, then run again"
    ;;
esac
printf '{"nodeId":"%s","created":%s}\n' "$node_id" "$created"
