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
# once, so that the host's overlay sandbox is made anew), then start again those that do not
# carry MANAGED_LABEL: the stack re-creates its own, so that it knows their new addresses.
#
# ACTION=rejoin (create): the above, then writes "<dockerd identity> <EPOCH>" to
#   $STATE_DIR/dockerd-epoch, which preflight compares with the running daemon to see a restart
#   that happened outside the stack. Prints one line saying what it did.
# ACTION=keep (update: this script changed, no restart happened): does nothing. Only a new
#   generation (the command's triggers, a replacement) runs the rejoin again.
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
# @var SETTLE_SECONDS optional: seconds to wait after the stop, before anything starts again (default 5)
# @var MANAGED_LABEL optional: the label of the stack's own containers, left stopped for the stack to re-create
# @var ACTION optional: rejoin (default), keep or forget
# @var DOCKER optional: docker CLI to use (default docker)
# @var PID_FILE optional: dockerd's pid file (default /var/run/docker.pid)
# @var STATE_DIR optional: docker-overlay's state directory on the host (default /var/lib/docker-overlay)
# @var HOST_LABEL optional: this host's name in messages (default: uname -n)
set -euo pipefail

ACTION=${ACTION:-rejoin}
DOCKER=${DOCKER:-docker}
WAIT_SECONDS=${WAIT_SECONDS:-60}
STOP_SECONDS=${STOP_SECONDS:-10}
SETTLE_SECONDS=${SETTLE_SECONDS:-5}
PID_FILE=${PID_FILE:-/var/run/docker.pid}
STATE_DIR=${STATE_DIR:-/var/lib/docker-overlay}
HOST_LABEL=${HOST_LABEL:-$(uname -n)}

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # @include
# shellcheck source=lib/dockerd-identity.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/dockerd-identity.sh" # @include

epoch_file=$STATE_DIR/dockerd-epoch

case $ACTION in
  keep)
    printf 'docker-overlay: %s: no Docker restarted since the last up; nothing to announce again\n' "$HOST_LABEL"
    exit 0
    ;;
  forget)
    rm -f -- "$epoch_file"
    printf 'docker-overlay: %s: forgot which Docker daemon runs here\n' "$HOST_LABEL"
    exit 0
    ;;
  rejoin) ;;
  *) die 5 "ACTION must be rejoin, keep or forget, got '$ACTION'" ;;
esac

for name in NETWORK EPOCH; do
  [[ -n ${!name-} ]] || die 5 "$name is required and was not given (see the @var lines at the top of this script)"
done
[[ $EPOCH =~ ^[0-9]+$ ]] || die 5 "EPOCH must be a whole number, got '$EPOCH'"
[[ $WAIT_SECONDS =~ ^[0-9]+$ ]] || die 5 "WAIT_SECONDS must be a whole number of seconds, got '$WAIT_SECONDS'"
[[ $SETTLE_SECONDS =~ ^[0-9]+$ ]] || die 5 "SETTLE_SECONDS must be a whole number of seconds, got '$SETTLE_SECONDS'"

dk() { timeout $((STOP_SECONDS + 30)) "$DOCKER" "$@"; }

identity=$(dockerd_identity) || die 1 "cannot tell which dockerd runs here (no live process in $PID_FILE); is Docker running? Nothing was restarted."

# Gossip first: a container started again before it is up is lost to the others again.
if [[ -n ${GOSSIP_ADDRESS-} ]]; then
  host=${GOSSIP_ADDRESS%:*} port=${GOSSIP_ADDRESS##*:}
  host=${host#[}
  host=${host%]}
  deadline=$((SECONDS + WAIT_SECONDS))
  # shellcheck disable=SC2016 # $1 and $2 are the inner bash's arguments, not ours
  until timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$host" "$port" 2>/dev/null; do
    ((SECONDS < deadline)) || die 1 "Docker's gossip on $GOSSIP_ADDRESS did not accept connections within ${WAIT_SECONDS}s; nothing was restarted. Check that the daemon runs with its cluster store (docker info) and run pulumi up again."
    sleep 1
  done
fi

ids=()
if dk network inspect "$NETWORK" >/dev/null 2>&1; then
  mapfile -t ids < <(dk ps -q --no-trunc --filter "network=$NETWORK")
fi
if ((${#ids[@]} > 0)); then
  # "<id> <name> <label value>" for each; the stack's own carry MANAGED_LABEL.
  ours=() ours_names='' others=() others_names=''
  while read -r id name label; do
    if [[ -n ${MANAGED_LABEL-} && -n ${label-} ]]; then
      ours+=("$id") ours_names+=${ours_names:+,}${name#/}
    else
      others+=("$id") others_names+=${others_names:+,}${name#/}
    fi
  done < <(dk inspect --format "{{.Id}} {{.Name}} {{index .Config.Labels \"${MANAGED_LABEL:-none}\"}}" "${ids[@]}")
  all_names=$ours_names${ours_names:+${others_names:+,}}$others_names
  # All of them: this host's overlay sandbox is made anew only once none of them holds it. The
  # stack's own are killed (they are re-created anyway), so that every host's containers leave at
  # about the same moment; the others get their stop timeout.
  if ((${#ours[@]} > 0)); then
    dk kill "${ours[@]}" >/dev/null || die 1 "could not stop the stack's containers on $NETWORK ($ours_names); some may be stopped: run pulumi up again"
  fi
  if ((${#others[@]} > 0)); then
    dk stop -t "$STOP_SECONDS" "${others[@]}" >/dev/null || die 1 "could not stop the containers on $NETWORK ($all_names); some may be stopped: run pulumi up again"
  fi
  # Let every host hear that these endpoints left before anything takes their addresses again
  # (a new endpoint announced before the old one's leave is lost to the hosts that get them in
  # that order).
  sleep "$SETTLE_SECONDS"
  done_what="stopped ${#ids[@]} container(s) on $NETWORK"
  if ((${#ours[@]} > 0)); then done_what+="; the stack re-creates its own ($ours_names)"; fi
  if ((${#others[@]} > 0)); then
    dk start "${others[@]}" >/dev/null || die 1 "could not start the containers on $NETWORK again ($others_names): see docker ps -a, and run pulumi up again"
    done_what+="; started the others again ($others_names)"
  fi
  done_what+=", so that every host learns their endpoints again"
else
  done_what="no running container on $NETWORK to announce again"
fi

mkdir -p -- "$STATE_DIR"
tmp=$(mktemp "$STATE_DIR/.dockerd-epoch.XXXXXX")
printf '%s %s\n' "$identity" "$EPOCH" >"$tmp"
mv -f -- "$tmp" "$epoch_file"
printf 'docker-overlay: %s: %s\n' "$HOST_LABEL" "$done_what"
