#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# swarm-leave: leave the swarm, but only one docker-overlay created (MARKER=swarm-created) or
# joined (MARKER=swarm-joined) on this host, as recorded by swarm-init / swarm-join.
#
# No marker: nothing to undo, Docker is not even asked. Marker present: if the node is still in
# the swarm recorded there (same node ID), `docker swarm leave --force`; if it left already or is
# now in another swarm, leave it be. The marker is removed either way. Idempotent. Fails when
# the daemon does not answer (the marker is kept, so a later run can finish the job).
# Prints one JSON line: {"left":true|false}.
#
# @var MARKER required: swarm-created or swarm-joined
# @var DOCKER optional: docker CLI to use (default docker)
# @var STATE_DIR optional: docker-overlay's state directory on the host (default /var/lib/docker-overlay)
# @var HOST_LABEL optional: this host's name in messages (default: uname -n)
# @var OWNER optional: "<project>/<stack>" of the run; another stack's host is refused, exit 6 (lib/owner.sh)
set -euo pipefail

DOCKER=${DOCKER:-docker}
STATE_DIR=${STATE_DIR:-/var/lib/docker-overlay}
HOST_LABEL=${HOST_LABEL:-$(uname -n)}

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # @include
# shellcheck source=lib/owner.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/owner.sh" # @include

[[ -n ${MARKER-} ]] || die 5 "MARKER is required and was not given (see the @var lines at the top of this script)"

dk() { timeout 60 "$DOCKER" "$@"; }

[[ $MARKER == swarm-created || $MARKER == swarm-joined ]] || die 5 "MARKER must be swarm-created or swarm-joined, got '$MARKER'"
marker_file=$STATE_DIR/$MARKER

lock_host
check_owner
if [[ ! -e $marker_file ]]; then
  rm -f -- "$STATE_DIR/join-epoch"
  release_host
  printf '{"left":false}\n'
  exit 0
fi
if ! state=$(dk info --format '{{.Swarm.LocalNodeState}}' 2>&1); then
  die 1 "Docker is not answering ($(one_line "$state")), so this node cannot leave the swarm docker-overlay put it in; start Docker and run again"
fi
left=false
if [[ $state != inactive ]]; then
  recorded=$(<"$marker_file")
  node_id=$(dk info --format '{{.Swarm.NodeID}}')
  if [[ -n $recorded && $recorded != "$node_id" ]]; then
    printf 'docker-overlay: %s: this node is now in another swarm (node %s, docker-overlay made %s); left alone\n' "$HOST_LABEL" "$node_id" "$recorded" >&2
  else
    if ! out=$(dk swarm leave --force 2>&1); then
      die 1 "docker swarm leave --force failed: $(one_line "$out")"
    fi
    left=true
  fi
fi
rm -f -- "$marker_file" "$STATE_DIR/join-epoch"
release_host
printf '{"left":%s}\n' "$left"
