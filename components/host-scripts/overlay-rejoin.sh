#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# overlay-rejoin: after a Docker daemon on the overlay restarted (a reboot, a crash, `systemctl
# restart docker` by hand, or docker-overlay's own daemon configuration), make the hosts learn
# each other's endpoints again, then record which daemon this host runs now.
#
# Why (docs/lab.md, "A host's Docker restarted"): with the legacy cluster store, a daemon that
# restarts brings its containers back before its gossip (serf) is up. Its overlay sandbox then
# never asks the others for endpoints it does not know, and the others never announce to it the
# endpoints they had before it came back: traffic between its containers and the other hosts'
# old containers fails, by address and by name, and stays failed. Stopping and starting a
# container announces its endpoint again, and a sandbox made after the gossip is up resolves
# the ones it misses. So, on EVERY host (each host's Rejoin runs this): wait until this
# daemon's gossip accepts connections, stop every running container attached to NETWORK (all at
# once, so that the host's overlay sandbox is made anew), then start them again. Their
# addresses change: stdout reports the new ones, which the stack uses (registrations, the
# connectivity check) in the same up.
#
# ACTION=rejoin (create): the above, then writes "<dockerd identity> <EPOCH>" to
#   $STATE_DIR/dockerd-epoch, which preflight compares with the running daemon to see a restart
#   that happened outside the stack. Prints one line saying what it did on stderr, and on stdout
#   {"addresses":{"<container ID>":{"before":"<its address before>","after":"<its new one>"},...}}.
# ACTION=keep (update: this script changed, no restart happened): restarts nothing (only a new
#   generation, the command's triggers, a replacement, runs the rejoin again); reports the
#   current addresses the same way.
# ACTION=forget (delete): removes $STATE_DIR/dockerd-epoch.
#
# The daemon's identity is the boot ID and the start time (clock ticks since boot) of the dockerd
# in PID_FILE: it changes with every start of Docker and only then.
#
# @var NETWORK optional: needed for rejoin: the overlay network's name
# @var EPOCH optional: needed for rejoin: how many times this host's Docker started outside the stack, as preflight counted
# @var GOSSIP_ADDRESS optional: ADDRESS:PORT of this daemon's serf agent, waited for before anything is restarted
# @var WAIT_SECONDS optional: how long to wait for the gossip port (default 60)
# @var STOP_SECONDS optional: `docker stop -t` for the containers (default 10)
# @var SETTLE_SECONDS optional: seconds to wait after starting them, before the next host's rejoin (default 3)
# @var ACTION optional: rejoin (default), keep or forget
# @var DOCKER optional: docker CLI to use (default docker)
# @var PID_FILE optional: dockerd's pid file (default /var/run/docker.pid)
# @var STATE_DIR optional: docker-overlay's state directory on the host (default /var/lib/docker-overlay)
# @var HOST_LABEL optional: this host's name in messages (default: uname -n)
# @var OWNER optional: "<project>/<stack>" of the run; another stack's host is refused, exit 6 (lib/owner.sh)
set -euo pipefail

ACTION=${ACTION:-rejoin}
DOCKER=${DOCKER:-docker}
WAIT_SECONDS=${WAIT_SECONDS:-60}
STOP_SECONDS=${STOP_SECONDS:-10}
SETTLE_SECONDS=${SETTLE_SECONDS:-3}
PID_FILE=${PID_FILE:-/var/run/docker.pid}
STATE_DIR=${STATE_DIR:-/var/lib/docker-overlay}
HOST_LABEL=${HOST_LABEL:-$(uname -n)}

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # @include
# shellcheck source=lib/dockerd-identity.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/dockerd-identity.sh" # @include
# shellcheck source=lib/owner.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/owner.sh" # @include

epoch_file=$STATE_DIR/dockerd-epoch

case $ACTION in
  keep) ;;
  forget)
    lock_host
    check_owner
    rm -f -- "$epoch_file"
    release_host
    printf 'docker-overlay: %s: forgot which Docker daemon runs here\n' "$HOST_LABEL"
    exit 0
    ;;
  rejoin) ;;
  *) die 5 "ACTION must be rejoin, keep or forget, got '$ACTION'" ;;
esac

# addresses_of IDS...: "<ID> <address on NETWORK>" for each.
addresses_of() {
  (($# > 0)) || return 0
  dk inspect --format "{{.Id}} {{with index .NetworkSettings.Networks \"$NETWORK\"}}{{.IPAddress}}{{end}}" "$@"
}
# report IDS...: stdout {"addresses":{"<ID>":{"before":"<address before>","after":"<address now>"},...}};
# the addresses before come from the associative array `before` (the same as now when unset).
declare -A before=()
report() {
  local entries=() id address
  while read -r id address; do
    entries+=("$(printf '%s:{"before":%s,"after":%s}' "$(json_str "$id")" "$(json_str "${before[$id]-${address-}}")" "$(json_str "${address-}")")")
  done < <(addresses_of "$@")
  printf '{"addresses":{%s}}\n' "$(IFS=,; printf '%s' "${entries[*]-}")"
}
# on_network: the full IDs of the running containers on NETWORK, one a line (none without it).
on_network() {
  if dk network inspect "$NETWORK" >/dev/null 2>&1; then dk ps -q --no-trunc --filter "network=$NETWORK"; fi
}

for name in NETWORK EPOCH; do
  [[ -n ${!name-} ]] || die 5 "$name is required and was not given (see the @var lines at the top of this script)"
done
[[ $EPOCH =~ ^[0-9]+$ ]] || die 5 "EPOCH must be a whole number, got '$EPOCH'"
[[ $WAIT_SECONDS =~ ^[0-9]+$ ]] || die 5 "WAIT_SECONDS must be a whole number of seconds, got '$WAIT_SECONDS'"
[[ $SETTLE_SECONDS =~ ^[0-9]+$ ]] || die 5 "SETTLE_SECONDS must be a whole number of seconds, got '$SETTLE_SECONDS'"

dk() { timeout $((STOP_SECONDS + 30)) "$DOCKER" "$@"; }

# forget_stale_endpoint NAME: removes the endpoint record named NAME that a daemon left in the
# cluster store on NETWORK (docs/lab.md, "A stale endpoint record"). Docker removes such a
# record by name only when no container has that name (`network disconnect -f`; given a
# container it would take the container off the network instead), so the container steps aside
# under a temporary name for that one command and gets its name back at once.
forget_stale_endpoint() {
  local name=$1 aside="$1.docker-overlay-aside"
  dk rename "$name" "$aside" >/dev/null || return 1
  if ! dk network disconnect -f "$NETWORK" "$name" >/dev/null; then
    dk rename "$aside" "$name" >/dev/null || die 1 "container $name is named $aside now and could not get its name back: run docker rename $aside $name on $HOST_LABEL, then pulumi up again"
    return 1
  fi
  dk rename "$aside" "$name" >/dev/null || die 1 "container $name is named $aside now and could not get its name back: run docker rename $aside $name on $HOST_LABEL, then pulumi up again"
  printf 'docker-overlay: %s: removed the endpoint record of %s that an earlier Docker left in the cluster store on %s (it kept %s from starting again)\n' "$HOST_LABEL" "$name" "$NETWORK" "$name" >&2
}

# start_again IDS...: starts the stopped containers. One that Docker refuses because an endpoint
# of its name is still in the store (a daemon that stopped before removing its container's
# record: "endpoint with name X already exists in network N") gets that record removed and is
# started once more; any other refusal fails the run, naming the containers.
start_again() {
  local err stale=() name line re='endpoint with name ([A-Za-z0-9][A-Za-z0-9_.-]*) already exists in network (.*)$'
  err=$(dk start "$@" 2>&1 >/dev/null) && return 0
  while IFS= read -r line; do
    if [[ $line =~ $re && ${BASH_REMATCH[2]} == "$NETWORK" && " ${stale[*]-} " != *" ${BASH_REMATCH[1]} "* ]]; then
      stale+=("${BASH_REMATCH[1]}")
    fi
  done <<<"$err"
  local fail="could not start the containers on $NETWORK again ($names): ${err//$'\n'/ }. See docker ps -a on $HOST_LABEL, and run pulumi up again"
  ((${#stale[@]} > 0)) || die 1 "$fail"
  for name in "${stale[@]}"; do
    # Only the containers this run stopped; a name that looks like an ID would name another one.
    [[ ,$names, == *",$name,"* && ! $name =~ ^[0-9a-f]+$ ]] || die 1 "$fail"
    forget_stale_endpoint "$name" || die 1 "$fail"
  done
  # The new endpoint may get the address the old one had: let every host hear the old one's
  # leave first (seen on the lab: b refused connections from lab1 when it kept its address).
  sleep "$SETTLE_SECONDS"
  err=$(dk start "$@" 2>&1 >/dev/null) || die 1 "could not start the containers on $NETWORK again ($names), even after removing the stale endpoint record(s) of ${stale[*]}: ${err//$'\n'/ }. See docker ps -a on $HOST_LABEL, and run pulumi up again"
}

if [[ $ACTION == keep ]]; then
  mapfile -t ids < <(on_network)
  printf 'docker-overlay: %s: no Docker restarted since the last up; nothing to announce again\n' "$HOST_LABEL" >&2
  report "${ids[@]}"
  exit 0
fi

lock_host
claim_host

identity=$(dockerd_identity) || die 1 "cannot tell which dockerd runs here (no live process in $PID_FILE); is Docker running? Nothing was restarted."

# Gossip first: a container started again before it is up is lost to the others again.
if [[ -n ${GOSSIP_ADDRESS-} ]]; then
  deadline=$((SECONDS + WAIT_SECONDS))
  until tcp_accepts "$GOSSIP_ADDRESS"; do
    ((SECONDS < deadline)) || die 1 "Docker's gossip on $GOSSIP_ADDRESS did not accept connections within ${WAIT_SECONDS}s; nothing was restarted. Check that the daemon runs with its cluster store (docker info) and run pulumi up again."
    sleep 1
  done
fi

mapfile -t ids < <(on_network)
if ((${#ids[@]} > 0)); then
  names=''
  while IFS= read -r n; do names+=${names:+,}${n#/}; done < <(dk inspect --format '{{.Name}}' "${ids[@]}")
  while read -r id address; do before[$id]=${address-}; done < <(addresses_of "${ids[@]}")
  # All at once: this host's overlay sandbox is made anew only once none of them holds it.
  dk stop -t "$STOP_SECONDS" "${ids[@]}" >/dev/null || die 1 "could not stop the containers on $NETWORK ($names); some may be stopped: run pulumi up again"
  start_again "${ids[@]}"
  # The hosts rejoin one after another: let every host hear these leaves and joins before the
  # next host restarts its containers.
  sleep "$SETTLE_SECONDS"
  done_what="stopped and started ${#ids[@]} container(s) on $NETWORK ($names), so that every host learns their endpoints again"
else
  done_what="no running container on $NETWORK to announce again"
fi

mkdir -p -- "$STATE_DIR"
tmp=$(mktemp "$STATE_DIR/.dockerd-epoch.XXXXXX")
printf '%s %s\n' "$identity" "$EPOCH" >"$tmp"
mv -f -- "$tmp" "$epoch_file"
printf 'docker-overlay: %s: %s\n' "$HOST_LABEL" "$done_what" >&2
# Their addresses changed: the stack takes the new ones from this report.
report "${ids[@]}"
