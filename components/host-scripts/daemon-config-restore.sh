#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# daemon-config-restore: take out of daemon.json what docker-overlay put in (the original was kept
# by daemon-config-backup in $STATE_DIR), restart Docker and wait until it answers.
#
# When daemon.json is still the file docker-overlay wrote ($STATE_DIR/daemon.json.ours), holding
# no edits of someone else's that a drift up kept ($STATE_DIR/daemon.json.edited), the
# original is copied back byte for byte with its mode (cp -p), or daemon.json is removed when
# there was none. When someone edited it after `up`, only docker-overlay's keys (cluster-store,
# cluster-advertise, cluster-store-opts) are taken out and the values the original had for them
# put back; every other byte stays as the person wrote it (lib/json-edit.sh), and a file that
# did not exist before is kept if anything else is left in it. A daemon.json that is a symlink
# is written through the link. Success means the daemon answers and reports the cluster store
# the original names (none, usually). Idempotent: when the file is what it should be already and
# the daemon reports that, nothing is restarted. Without any backup it says so and changes
# nothing. If Docker does not come back, docker-overlay's file is put back so that Docker runs
# again, and the script exits 1 (2 if Docker could not be brought back at all).
# The backup is kept, unless FORGET=true: then, once Docker runs with the original, the backup
# and docker-overlay's other daemon.json records go (and the owner record with the last of them).
#
# @var FORGET optional: true: remove the backup after a successful restore (the backup command's delete)
# @var RESTART_COMMAND required array: argv that restarts dockerd, e.g. systemctl restart docker
# @var WAIT_SECONDS optional: how long to wait for the daemon after a restart (default 60)
# @var DAEMON_LOG_COMMAND optional array: argv printing the daemon's recent log (default: journalctl -u docker.service since the restart, when journalctl exists)
# @var POLL_SECONDS optional: seconds between checks while waiting (default 1)
# @var DOCKER optional: docker CLI to use (default docker)
# @var DOCKER_CONFIG_DIR optional: directory of daemon.json (default /etc/docker)
# @var STATE_DIR optional: docker-overlay's state directory on the host (default /var/lib/docker-overlay)
# @var HOST_LABEL optional: this host's name in messages (default: uname -n)
# @var OWNER optional: "<project>/<stack>" of the run; another stack's host is refused, exit 6 (lib/owner.sh)
set -euo pipefail

WAIT_SECONDS=${WAIT_SECONDS:-60}
POLL_SECONDS=${POLL_SECONDS:-1}
DOCKER=${DOCKER:-docker}
DOCKER_CONFIG_DIR=${DOCKER_CONFIG_DIR:-/etc/docker}
STATE_DIR=${STATE_DIR:-/var/lib/docker-overlay}
HOST_LABEL=${HOST_LABEL:-$(uname -n)}

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # @include
# shellcheck source=lib/owner.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/owner.sh" # @include

as_array RESTART_COMMAND
as_array DAEMON_LOG_COMMAND
((${#RESTART_COMMAND[@]} > 0)) || die 5 "RESTART_COMMAND is empty; give the argv that restarts Docker, e.g. systemctl restart docker"
[[ $WAIT_SECONDS =~ ^[0-9]+$ ]] || die 5 "WAIT_SECONDS must be a whole number of seconds, got '$WAIT_SECONDS'"

work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT

config=$DOCKER_CONFIG_DIR/daemon.json
orig=$STATE_DIR/daemon.json.orig
orig_absent=$STATE_DIR/daemon.json.orig-absent

dk() { timeout 30 "$DOCKER" "$@"; }

# shellcheck source=lib/daemon.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/daemon.sh" # @include
# shellcheck source=lib/json-edit.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/json-edit.sh" # @include

ours=$STATE_DIR/daemon.json.ours
# forget_backup: the backup and the other records of daemon.json go, then the owner record with
# the last of our state (lib/owner.sh). Only after the original is in place (FORGET=true).
forget_backup() {
  [[ ${FORGET:-} == true ]] || return 0
  rm -f -- "$orig" "$orig_absent" "$ours" "$STATE_DIR/daemon.json.prev" "$STATE_DIR/daemon.json.prev-absent" "$STATE_DIR/apply-epoch" "$STATE_DIR/daemon.json.edited"
  release_host
}

# wait_for STORE: until WAIT_SECONDS pass, wait for the daemon to answer reporting STORE ("*": anything).
last_seen='not answering'
last_store=''
wait_for() {
  local deadline=$((SECONDS + WAIT_SECONDS)) cs
  while :; do
    if cs=$(cluster_store); then
      last_seen="answering with cluster store '${cs}'"
      last_store=$cs
      if [[ $1 == '*' || $cs == "$1" ]]; then return 0; fi
    else
      last_seen='not answering'
    fi
    if ((SECONDS >= deadline)); then return 1; fi
    sleep "$POLL_SECONDS"
  done
}

lock_host
check_owner

# --- is there anything to restore? ----------------------------------------------------------
if [[ -e $orig ]]; then
  original=$orig
  re='"cluster-store"[[:space:]]*:[[:space:]]*"([^"]*)"'
  content=$(<"$orig")
  if [[ $content =~ $re ]]; then expected=${BASH_REMATCH[1]}; else expected=''; fi
elif [[ -e $orig_absent ]]; then
  original=''
  expected=''
else
  printf 'docker-overlay: %s: no backup of the original daemon.json in %s; nothing was changed\n' "$HOST_LABEL" "$STATE_DIR"
  exit 0
fi

# --- what daemon.json should be: the original, or (edited after up) the edit without our keys ---
target=$original
if [[ -n $original ]]; then restored="the original $config is back"; else restored="$config is removed (there was none before docker-overlay)"; fi
edited_marker=$STATE_DIR/daemon.json.edited
if [[ -e $ours && -e $config ]] && { ! same_bytes "$config" "$ours" || [[ -e $edited_marker ]]; } && ! { [[ -n $original ]] && same_bytes "$original" "$config"; }; then
  rc=0
  json_take_keys "$config" "$original" cluster-store cluster-advertise cluster-store-opts >"$work/edited" 2>"$work/edit.err" || rc=$?
  if ((rc == 1)); then
    die 1 "$config was edited after docker-overlay wrote it and cannot be read as one JSON object ($(one_line "$(cat "$work/edit.err")")); nothing was changed. Take cluster-store, cluster-advertise and cluster-store-opts out of it by hand (the original is in $STATE_DIR), then run pulumi destroy --run-program again."
  fi
  if ((rc == 3)) && [[ -z $original ]]; then
    target=''
    restored="$config is removed (there was none before docker-overlay, and nothing but its keys is left in it)"
  else
    chmod "$(stat -L -c %a -- "$config")" "$work/edited"
    target=$work/edited
    restored="docker-overlay's keys are out of $config (edited after up: everything else in it is kept as written)"
  fi
fi

if { [[ -n $target ]] && same_bytes "$target" "$config"; } || { [[ -z $target && ! -e $config ]]; }; then
  if current=$(cluster_store) && [[ $current == "$expected" ]]; then
    printf 'docker-overlay: %s: daemon.json is as it was before docker-overlay and Docker is running with it; nothing to do\n' "$HOST_LABEL"
    forget_backup
    exit 0
  fi
  changed=false
else
  # Keep what is there now (docker-overlay's file) in case Docker will not start with the original.
  if [[ -e $config ]]; then
    cp -p -- "$config" "$work/current" || die 1 "cannot copy $config to a temporary file; nothing was changed"
    rollback=$work/current
  else
    rollback=''
  fi
  install_file "$target" || die 1 "cannot write $config; nothing was changed"
  changed=true
fi

if restart; then
  if wait_for "$expected"; then
    printf 'docker-overlay: %s: %s and Docker is running\n' "$HOST_LABEL" "$restored"
    forget_backup
    exit 0
  fi
  if [[ $last_seen == answering* ]]; then
    printf "docker-overlay: %s: %s and Docker is running, but it reports cluster store '%s' where the original names '%s'; check the Docker unit for --cluster-store flags\n" \
      "$HOST_LABEL" "$restored" "$last_store" "$expected" >&2
    forget_backup
    exit 0
  fi
  reason=$(why_failed wait)
else
  reason=$(why_failed restart)
fi

failure="Docker did not come back after $restored: $reason"
if [[ $changed == false ]]; then
  die 2 "DOCKER IS NOT RUNNING. $failure. Log in, run systemctl status docker and journalctl -u docker, and start Docker by hand."
fi
rc=0
put_back "$rollback" || rc=$?
case $rc in
  0) die 1 "$failure. docker-overlay's daemon.json was put back and Docker is running again; the original stays in $STATE_DIR. Fix the cause and run pulumi destroy again." ;;
  2) die 2 "DOCKER IS NOT RUNNING. $failure. Putting docker-overlay's daemon.json back did not start it either: $again. Log in, run systemctl status docker and journalctl -u docker, and start Docker by hand." ;;
esac
die 2 "DOCKER MAY BE DOWN. $failure. Putting docker-overlay's daemon.json back FAILED. Log in and start Docker by hand; the original daemon.json is in $STATE_DIR."
