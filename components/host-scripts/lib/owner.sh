#!/usr/bin/env bash
# lib/owner.sh: one stack per host, one docker-overlay script at a time. Included (see
# lib/common.sh) by every script that changes a host; uses STATE_DIR, HOST_LABEL and die.
#
# $STATE_DIR/owner holds the stack that configured this host ("<project>/<stack>", OWNER). A
# script run for another stack refuses (exit 6) before it changes anything: two stacks on one
# host would adopt each other's backup and swarm marker, and one's destroy would undo the other.
# The record goes when the last of docker-overlay's state on the host does (release_host).
#
# The lock is LOCK_FILE (not in STATE_DIR, which comes and goes), held with flock(1) for the rest
# of the script; LOCK_SECONDS bounds the wait.
#
# @var OWNER optional: "<project>/<stack>" of the run; without it, nothing is claimed or checked
# @var LOCK_FILE optional: the lock every docker-overlay script on this host takes (default /run/lock/docker-overlay.lock)
# @var LOCK_SECONDS optional: how long to wait for another docker-overlay script on this host (default 300)

# lock_host: waits (LOCK_SECONDS) until no other docker-overlay script runs on this host.
lock_host() {
  local seconds=${LOCK_SECONDS:-300} lock=${LOCK_FILE:-/run/lock/docker-overlay.lock} dir
  [[ $seconds =~ ^[0-9]+$ ]] || die 5 "LOCK_SECONDS must be a whole number of seconds, got '$seconds'"
  command -v flock >/dev/null 2>&1 || die 1 "flock (util-linux) is missing on this host; install util-linux. Nothing was changed."
  # Made only when missing (systemd makes /run/lock at boot): an existing directory's mode is never touched.
  dir=$(dirname -- "$lock")
  if [[ ! -d $dir ]]; then mkdir -p -- "$dir" || die 1 "cannot create $dir for the lock; nothing was changed"; fi
  exec 9>>"$lock" || die 1 "cannot open the lock $lock; check that the SSH user is root or can write there. Nothing was changed."
  if ! flock -w "$seconds" 9; then
    die 7 "another docker-overlay run has held $lock for over ${seconds}s (another pulumi up or destroy on this host?). Nothing was changed. Wait for it to end; if none is running, find the holder with: fuser -v $lock"
  fi
}

# owner_now: the stack recorded on this host ("" when none).
owner_now() {
  if [[ -s $STATE_DIR/owner ]]; then head -c 300 -- "$STATE_DIR/owner" | tr -d '\n'; fi
}

# check_owner: refuses (exit 6) when another stack configured this host.
check_owner() {
  [[ -n ${OWNER-} ]] || return 0
  local now
  now=$(owner_now)
  if [[ -n $now && $now != "$OWNER" ]]; then
    die 6 "this host is configured by the stack $now, not by $OWNER; two stacks on one host undo each other's work. Nothing was changed. Manage it from $now (or run pulumi destroy --run-program there first); if that stack is gone for good, remove $STATE_DIR/owner on this host"
  fi
}

# claim_host: check_owner, then records OWNER as this host's stack.
claim_host() {
  check_owner
  [[ -n ${OWNER-} ]] || return 0
  install -d -m 0700 -- "$STATE_DIR" || die 1 "cannot create $STATE_DIR; check that the SSH user is root or can write there. Nothing was changed."
  if [[ $(owner_now) != "$OWNER" ]]; then printf '%s\n' "$OWNER" >"$STATE_DIR/owner"; fi
}

# release_host: when nothing else of docker-overlay's is left in STATE_DIR, removes the record
# and the directory.
release_host() {
  [[ -d $STATE_DIR ]] || return 0
  local f
  for f in "$STATE_DIR"/* "$STATE_DIR"/.[!.]*; do
    [[ -e $f && $f != "$STATE_DIR/owner" ]] && return 0
  done
  rm -f -- "$STATE_DIR/owner"
  rmdir -- "$STATE_DIR" 2>/dev/null || true
}
