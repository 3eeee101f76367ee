#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# swarm-prune: on the first manager, take out of the swarm the nodes that stand for a host
# docker-overlay joined again after it left (drift: `docker swarm leave` by hand). Such a host
# comes back as a new node; its old node stays listed as Down with its tasks, among them the
# network attachments of its old containers, which keep the overlay "in use" so that it can never
# be removed. A node goes when its hostname is one of HOSTNAMES and its ID is not one of CURRENT
# (the nodes docker-overlay's hosts are now): whatever its status, since the manager may not have
# marked it Down yet (hostnames are unique on an overlay: preflight refuses two hosts with one).
# Prints one JSON line:
# {"removed":["<node ID>",...]}.
#
# @var HOSTNAMES required array: the hostnames of the stack's hosts
# @var CURRENT required array: the node IDs of the stack's hosts now
# @var DOCKER optional: docker CLI to use (default docker)
# @var HOST_LABEL optional: this host's name in messages (default: uname -n)
set -euo pipefail

DOCKER=${DOCKER:-docker}
HOST_LABEL=${HOST_LABEL:-$(uname -n)}

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # @include

as_array HOSTNAMES
as_array CURRENT
((${#HOSTNAMES[@]} > 0)) || die 5 "HOSTNAMES is required and was not given (see the @var lines at the top of this script)"

dk() { timeout --kill-after=5 60 "$DOCKER" "$@"; }

if ! nodes=$(dk node ls --format '{{.ID}} {{.Hostname}} {{.Status}}' 2>&1); then
  die 1 "cannot list the swarm's nodes on the first manager ($(one_line "$nodes")); is it still a manager?"
fi
removed=()
while read -r id hostname status; do
  [[ -n ${id-} ]] || continue
  ours=false now=false
  for h in "${HOSTNAMES[@]}"; do [[ $h == "$hostname" ]] && ours=true; done
  for c in ${CURRENT[@]+"${CURRENT[@]}"}; do [[ $c == "$id" ]] && now=true; done
  [[ $ours == true && $now == false ]] || continue
  if out=$(dk node rm --force "$id" 2>&1); then
    removed+=("$(json_str "$id")")
    printf 'docker-overlay: %s: removed node %s (%s, %s: that host joined the swarm again as a new node)\n' "$HOST_LABEL" "$id" "$hostname" "${status,,}" >&2
  else
    die 1 "docker node rm --force $id failed: $(one_line "$out")"
  fi
done <<<"$nodes"
printf '{"removed":[%s]}\n' "$(IFS=,; printf '%s' "${removed[*]-}")"
