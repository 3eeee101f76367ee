#!/usr/bin/env bash
# daemon-config-restore: put back the daemon.json docker-overlay found before it changed anything
# (kept by daemon-config-backup in $STATE_DIR), restart Docker and wait until it answers.
#
# The original is copied back byte for byte with its mode (cp -p), or daemon.json is removed
# when there was none. Success means the daemon answers and reports the cluster store the
# original names (none, usually). Idempotent: when the file is the original already and the
# daemon reports that, nothing is restarted. Without any backup it says so and changes nothing.
# If Docker does not come back with the original, docker-overlay's file is put back so that
# Docker runs again, and the script exits 1 (2 if Docker could not be brought back at all).
# The backup is kept; daemon-config-backup ACTION=forget removes it afterwards.
#
# @var RESTART_COMMAND required array: argv that restarts dockerd, e.g. systemctl restart docker
# @var WAIT_SECONDS optional: how long to wait for the daemon after a restart (default 60)
# @var DAEMON_LOG_COMMAND optional array: argv printing the daemon's recent log (default: journalctl -u docker.service since the restart, when journalctl exists)
# @var POLL_SECONDS optional: seconds between checks while waiting (default 1)
# @var DOCKER optional: docker CLI to use (default docker)
# @var DOCKER_CONFIG_DIR optional: directory of daemon.json (default /etc/docker)
# @var STATE_DIR optional: docker-overlay's state directory on the host (default /var/lib/docker-overlay)
# @var HOST_LABEL optional: this host's name in messages (default: uname -n)
set -euo pipefail

WAIT_SECONDS=${WAIT_SECONDS:-60}
POLL_SECONDS=${POLL_SECONDS:-1}
DOCKER=${DOCKER:-docker}
DOCKER_CONFIG_DIR=${DOCKER_CONFIG_DIR:-/etc/docker}
STATE_DIR=${STATE_DIR:-/var/lib/docker-overlay}
HOST_LABEL=${HOST_LABEL:-$(uname -n)}

die() { local code=$1; shift; printf 'docker-overlay: %s: %s\n' "$HOST_LABEL" "$*" >&2; exit "$code"; }

# as_array NAME: a value inserted by renderScript is already an array; one from the environment
# is a string, split on whitespace (never evaluated).
as_array() {
  local decl
  decl=$(declare -p "$1" 2>/dev/null || true)
  decl=${decl#declare -}
  if [[ ${decl%% *} == *a* ]]; then return 0; fi
  local -a words=()
  if [[ -n ${!1-} ]]; then read -r -a words <<<"${!1}"; fi
  unset "$1"
  local -n ref=$1
  # shellcheck disable=SC2034 # ref is a nameref to the caller's variable
  ref=(${words[@]+"${words[@]}"})
}

# one_line TEXT: newlines and runs of blanks become single spaces, at most 400 characters.
one_line() {
  local s=${1//$'\r'/ }
  s=${s//$'\n'/ }
  s=${s//$'\t'/ }
  while [[ $s == *'  '* ]]; do s=${s//'  '/ }; done
  s=${s# }
  s=${s% }
  if ((${#s} > 400)); then s="${s:0:400}..."; fi
  printf '%s' "$s"
}

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

# cluster_store: prints the cluster store the daemon reports ("" for none); fails when the daemon
# does not answer. See the header for why it asks through dial-stdio.
cluster_store() {
  local reply re='"ClusterStore":"([^"]*)"'
  reply=$(printf 'GET /info HTTP/1.0\r\nHost: docker\r\n\r\n' | dk system dial-stdio 2>/dev/null) || reply=''
  if [[ $reply != 'HTTP/1.'?' 200 '* || $reply != *'"ID":'* ]]; then
    # No dial-stdio (CLI older than 18.09): a client this old still knows the field.
    reply=$(dk info --format '{{json .}}' 2>/dev/null) || return 1
  fi
  if [[ $reply =~ $re ]]; then printf '%s' "${BASH_REMATCH[1]}"; fi
  return 0
}

# same_bytes A B: both files exist and hold the same bytes.
same_bytes() {
  [[ -f $1 && -f $2 ]] || return 1
  local a b
  a=$(sha256sum <"$1") && b=$(sha256sum <"$2") && [[ $a == "$b" ]]
}

# install_file SRC: make SRC daemon.json atomically (cp -p keeps its mode); "" removes daemon.json.
install_file() {
  if [[ -z $1 ]]; then rm -f -- "$config"; return; fi
  mkdir -p -- "$DOCKER_CONFIG_DIR" || return 1
  local tmp
  tmp=$(mktemp "$DOCKER_CONFIG_DIR/.daemon.json.docker-overlay.XXXXXX") || return 1
  if cp -p -- "$1" "$tmp" && mv -f -- "$tmp" "$config"; then return 0; fi
  rm -f -- "$tmp"
  return 1
}

# restart: runs RESTART_COMMAND, its output kept in $work/restart.out.
restart_started=0
restart() {
  restart_started=$(($(date +%s) - 1))
  "${RESTART_COMMAND[@]}" >"$work/restart.out" 2>&1
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

# daemon_error: the most telling line of the daemon's log since the last restart.
daemon_error() {
  local log='' line pick='' last=''
  if ((${#DAEMON_LOG_COMMAND[@]} > 0)); then
    log=$("${DAEMON_LOG_COMMAND[@]}" 2>&1) || true
  elif command -v journalctl >/dev/null 2>&1; then
    log=$(journalctl -u docker.service --since "@$restart_started" -n 50 --no-pager -o cat 2>&1) || true
  fi
  while IFS= read -r line; do
    [[ -n ${line//[[:space:]]/} ]] || continue
    last=$line
    if [[ ${line,,} =~ (failed|unable|error|fatal|refus|invalid|conflict) ]]; then pick=$line; fi
  done <<<"$log"
  one_line "${pick:-$last}"
}

# why_failed WHAT: one sentence on why the last restart-and-wait failed.
why_failed() {
  local out err
  out=$(one_line "$(cat "$work/restart.out" 2>/dev/null || true)")
  err=$(daemon_error)
  if [[ $1 == restart ]]; then
    # the words as a shell would need them (a word with blanks or a newline stays one, on one line)
    local shown
    printf -v shown '%q ' "${RESTART_COMMAND[@]}"
    printf '%s failed' "${shown% }"
    if [[ -n $out ]]; then printf ' (%s)' "$out"; fi
  else
    printf 'after %ss the daemon was %s' "$WAIT_SECONDS" "$last_seen"
  fi
  if [[ -n $err ]]; then printf '; daemon log: "%s"' "$err"; fi
}

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

if { [[ -n $original ]] && same_bytes "$original" "$config"; } || { [[ -z $original && ! -e $config ]]; }; then
  if current=$(cluster_store) && [[ $current == "$expected" ]]; then
    printf 'docker-overlay: %s: the original daemon.json is in place and Docker is running with it; nothing to do\n' "$HOST_LABEL"
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
  install_file "$original" || die 1 "cannot write $config; nothing was changed"
  changed=true
fi

if [[ -n $original ]]; then restored="the original $config is back"; else restored="$config is removed (there was none before docker-overlay)"; fi
if restart; then
  if wait_for "$expected"; then
    printf 'docker-overlay: %s: %s and Docker is running\n' "$HOST_LABEL" "$restored"
    exit 0
  fi
  if [[ $last_seen == answering* ]]; then
    printf "docker-overlay: %s: %s and Docker is running, but it reports cluster store '%s' where the original names '%s'; check the Docker unit for --cluster-store flags\n" \
      "$HOST_LABEL" "$restored" "$last_store" "$expected" >&2
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
if install_file "$rollback"; then
  if restart; then
    if wait_for '*'; then
      die 1 "$failure. docker-overlay's daemon.json was put back and Docker is running again; the original stays in $STATE_DIR. Fix the cause and run pulumi destroy again."
    fi
    again=$(why_failed wait)
  else
    again=$(why_failed restart)
  fi
  die 2 "DOCKER IS NOT RUNNING. $failure. Putting docker-overlay's daemon.json back did not start it either: $again. Log in, run systemctl status docker and journalctl -u docker, and start Docker by hand."
fi
die 2 "DOCKER MAY BE DOWN. $failure. Putting docker-overlay's daemon.json back FAILED. Log in and start Docker by hand; the original daemon.json is in $STATE_DIR."
