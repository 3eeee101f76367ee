#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# swarm-join: join this daemon to the swarm that MANAGER_ADDRESS manages.
#
# Already an active member of a swarm whose managers include MANAGER_ADDRESS: left alone. A
# member of another swarm: refused (docker-overlay never leaves a swarm it did not join). Else it
# joins through the Engine API (POST /swarm/join, what `docker swarm join` sends) over
# `docker system dial-stdio`, with the request on that command's stdin: the token is in no
# process's arguments (`docker swarm join --token` would show it to every user in `ps` and
# /proc). Then $STATE_DIR/swarm-joined (holding the node ID) is written so that swarm-leave undoes
# only that. The token decides the role; ROLE is what the caller chose it for, and is checked
# afterwards. JOIN_TOKEN is never printed: anything token-shaped is scrubbed from docker's output.
# Prints one JSON line: {"nodeId":"...","joined":true|false,"role":"manager|worker"}; "joined"
# says whether docker-overlay joined this node (on this run or an earlier one).
#
# @var MANAGER_ADDRESS required: a manager's address with port, e.g. 10.210.0.11:2377
# @var JOIN_TOKEN required: the swarm join token for ROLE (secret)
# @var ADVERTISE_ADDRESS required: address (or interface) other nodes reach this node at
# @var ROLE required: manager or worker, the role JOIN_TOKEN grants
# @var DOCKER optional: docker CLI to use (default docker)
# @var STATE_DIR optional: docker-overlay's state directory on the host (default /var/lib/docker-overlay)
# @var HOST_LABEL optional: this host's name in messages (default: uname -n)
# @var JOIN_EPOCH optional: drift epoch (components/drift.ts), recorded in $STATE_DIR/join-epoch once the node is in the swarm (default 0)
# @var OWNER optional: "<project>/<stack>" of the run; another stack's host is refused, exit 6 (lib/owner.sh)
set -euo pipefail

DOCKER=${DOCKER:-docker}
STATE_DIR=${STATE_DIR:-/var/lib/docker-overlay}
HOST_LABEL=${HOST_LABEL:-$(uname -n)}

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # @include
# shellcheck source=lib/swarm-hint.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/swarm-hint.sh" # @include
# shellcheck source=lib/owner.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/owner.sh" # @include
# scrub TEXT: one line, with the join token and anything token-shaped replaced.
scrub() {
  local s=${1//$'\r'/ }
  s=${s//$'\n'/ }
  if [[ -n $JOIN_TOKEN ]]; then s=${s//"$JOIN_TOKEN"/[join token hidden]}; fi
  while [[ $s =~ SWMTKN-[A-Za-z0-9-]+ ]]; do s=${s//"${BASH_REMATCH[0]}"/[join token hidden]}; done
  while [[ $s == *'  '* ]]; do s=${s//'  '/ }; done
  s=${s# }
  printf '%s' "${s% }"
}
for name in MANAGER_ADDRESS JOIN_TOKEN ADVERTISE_ADDRESS ROLE; do
  [[ -n ${!name-} ]] || die 5 "$name is required and was not given (see the @var lines at the top of this script)"
done

dk() { timeout 120 "$DOCKER" "$@"; }
marker_file=$STATE_DIR/swarm-joined

[[ $ROLE == manager || $ROLE == worker ]] || die 5 "ROLE must be manager or worker, got '$(scrub "$ROLE")'"
[[ $MANAGER_ADDRESS == *:[0-9]* ]] || MANAGER_ADDRESS=$MANAGER_ADDRESS:2377

role_now() { if [[ $(dk info --format '{{.Swarm.ControlAvailable}}') == true ]]; then echo manager; else echo worker; fi; }

# api_join: POST /swarm/join with the token in the body, through dial-stdio; the request goes to
# that command's stdin from printf (a builtin: no process gets it as an argument). Prints
# docker's error (its "message") and fails when the daemon refuses.
api_join() {
  local body reply status message
  body=$(printf '{"ListenAddr":"0.0.0.0:2377","AdvertiseAddr":%s,"RemoteAddrs":[%s],"JoinToken":%s,"Availability":"active"}' \
    "$(json_str "$ADVERTISE_ADDRESS")" "$(json_str "$MANAGER_ADDRESS")" "$(json_str "$JOIN_TOKEN")")
  if ! reply=$(LC_ALL=C printf 'POST /swarm/join HTTP/1.0\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
    "$(LC_ALL=C; printf '%s' "${#body}")" "$body" | dk system dial-stdio 2>&1); then
    printf '%s' "$reply"
    return 1
  fi
  status=${reply%%$'\r\n'*}
  [[ $status =~ ^HTTP/1\.[01]\ 200 ]] && return 0
  message=${reply#*$'\r\n\r\n'}
  if [[ $message =~ \"message\":\"(([^\"\\]|\\.)*)\" ]]; then message=${BASH_REMATCH[1]}; fi
  printf '%s (%s)' "$message" "${status:-no HTTP answer}"
  return 1
}

lock_host
claim_host

if ! state=$(dk info --format '{{.Swarm.LocalNodeState}}' 2>&1); then
  die 1 "Docker is not answering ($(scrub "$state")); start Docker and run again"
fi
case $state in
  active)
    managers=" $(dk info --format '{{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}') "
    if [[ $managers != *" $MANAGER_ADDRESS "* ]]; then
      die 1 "this node is already in another swarm (managers: $(scrub "$managers")), not the one at $MANAGER_ADDRESS. docker-overlay never leaves a swarm it did not join: run docker swarm leave on it by hand if it should join this cluster."
    fi
    joined=false
    if [[ -e $marker_file ]]; then joined=true; fi
    printf 'docker-overlay: %s: already in the swarm managed at %s; left alone\n' "$HOST_LABEL" "$MANAGER_ADDRESS" >&2
    ;;
  inactive)
    if ! out=$(api_join); then
      if [[ $out == *"'dial-stdio' is not a docker command"* ]]; then
        die 1 "this host's docker CLI has no 'system dial-stdio' (it is older than 18.09), which docker-overlay joins swarms through so that the join token is in no command line; update the docker CLI on this host"
      fi
      die 1 "joining the swarm at $MANAGER_ADDRESS as $ROLE failed: $(scrub "$out"). $(swarm_hint "$(scrub "$out")" "$MANAGER_ADDRESS" "$ROLE")"
    fi
    install -d -m 0700 -- "$STATE_DIR"
    dk info --format '{{.Swarm.NodeID}}' >"$marker_file"
    joined=true
    ;;
  *)
    die 1 "this node's swarm state is '$state' (not active or inactive); look at docker info and fix it by hand, then run again"
    ;;
esac
node_id=$(dk info --format '{{.Swarm.NodeID}}')
if [[ -d $STATE_DIR ]]; then printf '%s\n' "${JOIN_EPOCH:-0}" >"$STATE_DIR/join-epoch" || true; fi
actual_role=$(role_now)
if [[ $actual_role != "$ROLE" ]]; then
  printf 'docker-overlay: %s: this node is a swarm %s, not a %s as asked; promote or demote it with docker node promote/demote on a manager\n' "$HOST_LABEL" "$actual_role" "$ROLE" >&2
fi
printf '{"nodeId":"%s","joined":%s,"role":"%s"}\n' "$node_id" "$joined" "$actual_role"
