#!/usr/bin/env bash
# A private Docker Engine for the toolchain smoke test: one dockerd inside a network namespace
# that this script creates, with its own data root, exec root, pidfile and unix socket under
# DIR. It touches no other daemon, namespace or address.
#
#   dockerd-netns.sh start DIR NETNS   creates NETNS, starts dockerd, waits for DIR/docker.sock
#   dockerd-netns.sh stop DIR NETNS    stops that dockerd, deletes NETNS and DIR
#
# The daemon is started with `nsenter --net=/run/netns/NETNS`, not `ip netns exec`: the latter
# remounts /sys and dockerd then dies with "Devices cgroup isn't mounted".
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR NETNS" >&2; exit 2; }
[[ $# -eq 3 ]] || usage
action="$1" dir="$2" ns="$3"
[[ "$dir" == /* && "$ns" =~ ^[A-Za-z0-9_.-]+$ ]] || usage
sock="$dir/docker.sock"

start() {
  if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
    echo "dockerd-netns: installing Debian's docker.io ..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends docker.io >&2 ||
      { apt-get update >&2 && apt-get install -y --no-install-recommends docker.io >&2; }
  fi
  if [[ -e "/run/netns/$ns" ]]; then
    echo "dockerd-netns: network namespace $ns already exists; refusing to reuse it" >&2
    exit 1
  fi
  mkdir -p "$dir/data" "$dir/exec"
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  # No iptables rules and no default bridge: the daemon only has to create networks.
  nsenter --net="/run/netns/$ns" setsid dockerd \
    --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
    -H "unix://$sock" --bridge=none --iptables=false \
    --containerd-namespace "$ns" --containerd-plugins-namespace "$ns-plugins" \
    </dev/null >"$dir/dockerd.log" 2>&1 &
  local i
  for ((i = 0; i < 120; i++)); do
    if docker -H "unix://$sock" version >/dev/null 2>&1; then
      echo "unix://$sock"
      return 0
    fi
    if ! kill -0 $! 2>/dev/null; then break; fi
    sleep 0.5
  done
  echo "dockerd-netns: dockerd did not come up on $sock; its log:" >&2
  tail -n 30 "$dir/dockerd.log" >&2 || true
  exit 1
}

stop() {
  local pid="" i
  [[ -f "$dir/dockerd.pid" ]] && pid="$(cat "$dir/dockerd.pid")"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for ((i = 0; i < 60; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  # Unmount whatever the daemon left mounted under DIR, deepest first.
  awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l
  if [[ -e "/run/netns/$ns" ]]; then ip netns del "$ns"; fi
  rm -rf "$dir"
}

case "$action" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
