#!/usr/bin/env bash
# shellcheck disable=SC2154 # config, work, last_seen and the like come from the including script
# lib/daemon.sh: daemon.json and restart helpers of daemon-config-apply.sh and
# daemon-config-restore.sh (and cluster_store for host-facts.sh), included like lib/common.sh.
# Uses what the including script defines first: dk, DOCKER_CONFIG_DIR, config, work,
# RESTART_COMMAND, DAEMON_LOG_COMMAND, WAIT_SECONDS, last_seen and wait_for.

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

# install_file SRC: make SRC daemon.json atomically (cp -p keeps its mode); "" removes daemon.json.
# A daemon.json that is a symlink is written through it (the file it points to is replaced, the
# link stays); removing it removes what it points to, never the link alone.
install_file() {
  local file=$config tmp
  if [[ -L $config ]]; then
    file=$(readlink -f -- "$config") || return 1
    [[ -n $file ]] || return 1
  fi
  if [[ -z $1 ]]; then rm -f -- "$file"; return; fi
  mkdir -p -- "$(dirname -- "$file")" || return 1
  tmp=$(mktemp "$(dirname -- "$file")/.daemon.json.docker-overlay.XXXXXX") || return 1
  if cp -p -- "$1" "$tmp" && mv -f -- "$tmp" "$file"; then return 0; fi
  rm -f -- "$tmp"
  return 1
}

# restart: runs RESTART_COMMAND, its output kept in $work/restart.out. A restart command that
# hangs is stopped after WAIT_SECONDS (SIGTERM, SIGKILL 5 s later) and counts as failed: nothing
# else bounds it (pulumi-command does not enforce customTimeouts), and the rollback must run.
restart_started=0
restart() {
  restart_started=$(($(date +%s) - 1))
  local rc=0
  # 9>&-: the host lock (lib/owner.sh) must not pass to a dockerd the restart command starts
  # (a sysvinit script, the lab's): it would hold the lock for as long as it runs.
  timeout --kill-after=5 "$WAIT_SECONDS" "${RESTART_COMMAND[@]}" >"$work/restart.out" 2>&1 9>&- || rc=$?
  if ((rc == 124 || rc == 137)); then
    printf 'did not finish within %s seconds and was stopped\n' "$WAIT_SECONDS" >>"$work/restart.out"
  fi
  return "$rc"
}

# put_back FILE [AFTER]: the rollback of a change that Docker did not take: FILE becomes daemon.json
# again ("" removes it, install_file), AFTER (a command) runs once it is in place, Docker is
# restarted and waited for (wait_for '*', which the including script defines). Returns 0 when
# Docker runs again, 1 when the file could not be put back, 2 when Docker did not come back
# (why in $again, for the including script's message).
# shellcheck disable=SC2034 # read by the including script
again=''
# shellcheck disable=SC2034 # again: read by the including script
put_back() {
  install_file "$1" || return 1
  if (($# > 1)); then "$2"; fi
  if restart; then
    if wait_for '*'; then return 0; fi
    again=$(why_failed wait)
  else
    again=$(why_failed restart)
  fi
  return 2
}

# daemon_error: the most telling line of the daemon's log since the last restart.
daemon_error() {
  local log='' line pick='' last=''
  # Bounded like every other wait: a log command that hangs must not hold the rollback's message.
  if ((${#DAEMON_LOG_COMMAND[@]} > 0)); then
    log=$(timeout --kill-after=2 15 "${DAEMON_LOG_COMMAND[@]}" 2>&1 9>&- | tail -n 200) || true
  elif command -v journalctl >/dev/null 2>&1; then
    log=$(timeout --kill-after=2 15 journalctl -u docker.service --since "@$restart_started" -n 50 --no-pager -o cat 2>&1) || true
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
