#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# daemon-config-apply: write docker-overlay's daemon.json (cluster-store, cluster-advertise),
# restart Docker and prove the daemon took it; put the previous file back if it did not.
#
# Steps, each before the next touches anything:
#  a. refuse (exit 3) on Engine 23+, which removed cluster-store and would not start with it;
#  b. refuse (exit 4) when the Docker unit (or /etc/default/docker) already passes
#     --cluster-store/--cluster-advertise/--cluster-store-opt as flags: dockerd refuses an option
#     given both as a flag and in daemon.json;
#  c. if daemon.json already has exactly this content and the daemon reports
#     EXPECT_CLUSTER_STORE, do nothing ("already configured");
#  d. keep the current file as $STATE_DIR/daemon.json.prev (or the marker
#     daemon.json.prev-absent), then write the new file atomically, mode 0644;
#  e. run RESTART_COMMAND and wait until the daemon answers with EXPECT_CLUSTER_STORE;
#  f. otherwise put the previous file back byte for byte, restart, wait until Docker answers,
#     and exit 1 quoting the daemon's error (exit 2 if Docker could not be brought back).
# Exit codes: 0 done, 1 not applied (rolled back or nothing touched), 2 Docker left down,
# 3 engine too new, 4 flag in the unit, 5 bad input.
#
# The daemon's cluster store is read from the daemon's own API through
# `docker system dial-stdio`: docker CLI 23+ no longer knows the field, so
# `docker info --format '{{.ClusterStore}}'` fails there and `{{json .}}` drops it, even when
# the daemon (20.10) sends it. dial-stdio (CLI 18.09+) relays the raw reply with any client.
#
# @var CONTENT_BASE64 required: the complete new daemon.json, base64-encoded
# @var EXPECT_CLUSTER_STORE required: the cluster store the daemon must report afterwards, e.g. etcd://10.210.0.11:2379
# @var RESTART_COMMAND required array: argv that restarts dockerd, e.g. systemctl restart docker
# @var WAIT_SECONDS optional: how long to wait for the daemon after a restart (default 60)
# @var DAEMON_LOG_COMMAND optional array: argv printing the daemon's recent log (default: journalctl -u docker.service since the restart, when journalctl exists)
# @var SYSTEMD_UNIT_PATHS optional array: unit files or drop-in directories to scan for cluster flags (default: the usual docker.service locations, /etc/default/docker, /etc/sysconfig/docker and systemctl cat docker.service)
# @var POLL_SECONDS optional: seconds between checks while waiting (default 1)
# @var GOSSIP_ADDRESS optional: ADDRESS:PORT of this daemon's serf agent (port 7946 on its advertise address); after the restart, also wait until it accepts TCP. A daemon that has its cluster store but no gossip yet loses the endpoints announced before the mesh forms (docs/lab.md, findings)
# @var DOCKER optional: docker CLI to use (default docker)
# @var DOCKER_CONFIG_DIR optional: directory of daemon.json (default /etc/docker)
# @var STATE_DIR optional: docker-overlay's state directory on the host (default /var/lib/docker-overlay)
# @var HOST_LABEL optional: this host's name in messages (default: uname -n)
# @var APPLY_EPOCH optional: drift epoch (components/drift.ts), recorded in $STATE_DIR/apply-epoch once the daemon runs with the file (default 0)
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

for name in CONTENT_BASE64 EXPECT_CLUSTER_STORE; do
  [[ -n ${!name-} ]] || die 5 "$name is required and was not given (see the @var lines at the top of this script)"
done

as_array RESTART_COMMAND
as_array DAEMON_LOG_COMMAND
unit_paths

((${#RESTART_COMMAND[@]} > 0)) || die 5 "RESTART_COMMAND is empty; give the argv that restarts Docker, e.g. systemctl restart docker"
[[ $WAIT_SECONDS =~ ^[0-9]+$ ]] || die 5 "WAIT_SECONDS must be a whole number of seconds, got '$WAIT_SECONDS'"

work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT

config=$DOCKER_CONFIG_DIR/daemon.json
prev=$STATE_DIR/daemon.json.prev
prev_absent=$STATE_DIR/daemon.json.prev-absent
orig=$STATE_DIR/daemon.json.orig
orig_absent=$STATE_DIR/daemon.json.orig-absent

dk() { timeout 30 "$DOCKER" "$@"; }

# shellcheck source=lib/daemon.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/daemon.sh" # @include
# shellcheck source=lib/json-edit.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/json-edit.sh" # @include

# wait_for STORE: until WAIT_SECONDS pass, wait for the daemon to answer reporting STORE ("*": anything).
last_seen='not answering'
wait_for() {
  local deadline=$((SECONDS + WAIT_SECONDS)) cs
  while :; do
    if cs=$(cluster_store); then
      last_seen="answering with cluster store '${cs}'"
      if [[ $1 == '*' || $cs == "$1" ]]; then return 0; fi
    else
      last_seen='not answering'
    fi
    if ((SECONDS >= deadline)); then return 1; fi
    sleep "$POLL_SECONDS"
  done
}

# wait_gossip: until WAIT_SECONDS (counted from the restart) pass, wait for GOSSIP_ADDRESS to accept TCP.
wait_gossip() {
  [[ -n ${GOSSIP_ADDRESS-} ]] || return 0
  local deadline=$((restart_started + WAIT_SECONDS))
  while :; do
    if tcp_accepts "$GOSSIP_ADDRESS"; then return 0; fi
    if (($(date +%s) >= deadline)); then return 1; fi
    sleep "$POLL_SECONDS"
  done
}

lock_host
claim_host
APPLY_EPOCH=${APPLY_EPOCH:-0}
[[ $APPLY_EPOCH =~ ^[0-9]+$ ]] || die 5 "APPLY_EPOCH must be a whole number, got '$APPLY_EPOCH'"
# record_epoch: the drift epoch this run applied, for preflight to read (never fatal).
record_epoch() { if [[ -d $STATE_DIR ]]; then printf '%s\n' "$APPLY_EPOCH" >"$STATE_DIR/apply-epoch" || true; fi; }

# --- a. engine version -----------------------------------------------------------------------
if ! version=$(dk version --format '{{.Server.Version}}' 2>"$work/version.err"); then
  die 1 "Docker is not answering ($(one_line "$(cat "$work/version.err")")); nothing was changed. Start Docker (systemctl start docker) and run again."
fi
major=${version%%.*}
if [[ ! $major =~ ^[0-9]+$ ]]; then
  die 3 "cannot tell the major version of Docker Engine '$version'; refusing to set cluster-store. Use mode: swarm for this host. daemon.json was not changed."
fi
if ((10#$major >= 23)); then
  die 3 "Docker Engine $version has no cluster-store (removed in 23.0) and would refuse to start with it. Use mode: swarm for this cluster. daemon.json was not changed."
fi

# --- b. the same options as flags ------------------------------------------------------------
# The first line of the unit that passes one (lib/common.sh).
found=''
if flags=$(unit_cluster_flags) && [[ -n $flags ]]; then
  IFS=$'\t' read -r flag_file flag_line flag_option <<<"${flags%%$'\n'*}"
  found="$flag_file line $flag_line sets --$flag_option"
fi
if [[ -n $found ]]; then
  die 4 "$found as a dockerd flag; dockerd refuses to start when an option is both a flag and in daemon.json. Remove the flag there (then systemctl daemon-reload) and run again. daemon.json was not changed."
fi

# --- c. already configured? ------------------------------------------------------------------
if ! printf '%s' "$CONTENT_BASE64" | base64 -d >"$work/new" 2>/dev/null; then
  die 5 "CONTENT_BASE64 is not valid base64; nothing was changed"
fi
chmod 0644 "$work/new"
# Edited by hand since docker-overlay wrote it (drift), or holding such edits from before
# ($STATE_DIR/daemon.json.edited): our keys from the new file, every other key as the person
# left it (lib/json-edit.sh), and destroy will take out only our keys. A file that is not one JSON
# object gets ours.
edited_marker=$STATE_DIR/daemon.json.edited
if [[ -e $STATE_DIR/daemon.json.ours && -e $config ]] && ! same_bytes "$config" "$work/new"; then
  drifted=false
  if ! same_bytes "$config" "$STATE_DIR/daemon.json.ours"; then drifted=true; fi
  if [[ $drifted == true || -e $edited_marker ]] && json_take_keys "$config" "$work/new" cluster-store cluster-advertise cluster-store-opts >"$work/merged" 2>/dev/null; then
    chmod 0644 "$work/merged"
    mv -f -- "$work/merged" "$work/new"
    : >"$edited_marker"
    if [[ $drifted == true ]]; then
      printf 'docker-overlay: %s: %s was edited since the last up: docker-overlay'"'"'s keys are written again, the rest is kept as edited\n' "$HOST_LABEL" "$config"
    fi
  fi
fi
same_content=false
if same_bytes "$work/new" "$config"; then
  same_content=true
  if current=$(cluster_store) && [[ $current == "$EXPECT_CLUSTER_STORE" ]]; then
    printf 'docker-overlay: %s: daemon.json already configured and Docker reports cluster store %s; nothing to do\n' "$HOST_LABEL" "$EXPECT_CLUSTER_STORE"
    # The file is what this stack writes now: that is the record of what it wrote (a host an
    # older docker-overlay configured has none; after a drift the person's file may already be it).
    if [[ -d $STATE_DIR ]] && ! same_bytes "$work/new" "$STATE_DIR/daemon.json.ours"; then cp -p -- "$work/new" "$STATE_DIR/daemon.json.ours" || true; fi
    record_epoch
    exit 0
  fi
fi

# --- d. keep the current file, write the new one ---------------------------------------------
install -d -m 0700 -- "$STATE_DIR" || die 1 "cannot create $STATE_DIR; nothing was changed"
if [[ ! -e $orig && ! -e $orig_absent ]]; then
  # daemon-config-backup normally ran first; never lose the original if it did not.
  if [[ ! -e $config ]]; then
    : >"$orig_absent"
  elif ! { cp -p -- "$config" "$orig.tmp" && mv -f -- "$orig.tmp" "$orig"; }; then
    die 1 "cannot keep the original $config in $STATE_DIR; nothing was changed"
  fi
fi
# What docker-overlay wrote: destroy puts the original back only while daemon.json is still this,
# and otherwise takes out only our keys (daemon-config-restore).
if ! { cp -p -- "$work/new" "$STATE_DIR/daemon.json.ours.tmp" && mv -f -- "$STATE_DIR/daemon.json.ours.tmp" "$STATE_DIR/daemon.json.ours"; }; then
  die 1 "cannot keep a copy of the new $config in $STATE_DIR (check free space); nothing was changed"
fi
if [[ $same_content == true ]]; then
  # The file is ours already (an earlier run was interrupted): fall back to the original.
  if [[ -e $orig ]]; then rollback=$orig; else rollback=''; fi
else
  rm -f -- "$prev" "$prev_absent"
  if [[ -e $config ]]; then
    if ! { cp -p -- "$config" "$prev.tmp" && mv -f -- "$prev.tmp" "$prev"; }; then
      die 1 "cannot keep a copy of $config in $STATE_DIR; nothing was changed"
    fi
    rollback=$prev
  else
    : >"$prev_absent"
    rollback=''
  fi
  install_file "$work/new" || die 1 "cannot write $config; nothing was changed"
fi

# --- e. restart and prove it -----------------------------------------------------------------
if restart; then
  if wait_for "$EXPECT_CLUSTER_STORE"; then
    if wait_gossip; then
      record_epoch
      printf 'docker-overlay: %s: Docker restarted with cluster store %s\n' "$HOST_LABEL" "$EXPECT_CLUSTER_STORE"
      exit 0
    fi
    reason="the daemon reports the cluster store, but its gossip port $GOSSIP_ADDRESS did not open within ${WAIT_SECONDS}s: can this host reach $EXPECT_CLUSTER_STORE? (containers started before the gossip mesh forms cannot be reached across hosts)"
  else
    reason=$(why_failed wait)
  fi
else
  reason=$(why_failed restart)
fi

# --- f. roll back ----------------------------------------------------------------------------
if [[ -n $rollback ]]; then restored="the previous $config was restored"; else restored="$config was removed again (there was none before)"; fi
failure="Docker did not come back with the new daemon.json (cluster-store $EXPECT_CLUSTER_STORE): $reason"
# The file is the previous one again: so is the record of what docker-overlay wrote (else the
# next preview would take the rollback for an edit by hand).
# shellcheck disable=SC2317 # called by put_back (lib/daemon.sh)
record_rollback() {
  if [[ -n $rollback ]]; then cp -p -- "$rollback" "$STATE_DIR/daemon.json.ours" || true; else rm -f -- "$STATE_DIR/daemon.json.ours"; fi
}
rc=0
put_back "$rollback" record_rollback || rc=$?
case $rc in
  0) die 1 "$failure. ${restored^} and Docker is running again. Fix the cause and run pulumi up again." ;;
  2) die 2 "DOCKER IS NOT RUNNING. $failure. Then $restored, but Docker did not start again either: $again. Log in, run systemctl status docker and journalctl -u docker, and start Docker by hand." ;;
esac
die 2 "DOCKER MAY BE DOWN. $failure. Putting the previous daemon.json back FAILED (it is kept in $STATE_DIR). Log in, restore it by hand and start Docker."
