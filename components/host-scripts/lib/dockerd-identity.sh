#!/usr/bin/env bash
# lib/dockerd-identity.sh: which Docker daemon runs on this host, as "<boot ID>/<start time in
# clock ticks since boot>" of the dockerd in PID_FILE (default /var/run/docker.pid). It changes
# with every start of Docker (a reboot, a crash, a restart) and only then. Shared by
# host-facts (which reports it) and overlay-rejoin (which records it).

# dockerd_identity: prints it; fails when no live dockerd is in PID_FILE.
dockerd_identity() {
  local pid stat boot rest
  local -a fields
  pid=$(cat "${PID_FILE:-/var/run/docker.pid}" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  # Fields after the command name, which is in parentheses and may hold spaces: the start time
  # is field 22 of the whole line, the 20th after ")".
  rest=${stat##*) }
  read -r -a fields <<<"$rest"
  ((${#fields[@]} >= 20)) || return 1
  boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null) || boot=unknown-boot
  printf '%s/%s' "$boot" "${fields[19]}"
}
