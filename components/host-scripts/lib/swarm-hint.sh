#!/usr/bin/env bash
# lib/swarm-hint.sh: what to do about Docker's refusal of `swarm init` or `swarm join`, chosen by
# what Docker said (its messages in moby 20.10-28: daemon/cluster, daemon/config IsSwarmCompatible,
# swarmkit's join errors), so that the hint never blames the network for a daemon setting.
# Included by swarm-init.sh and swarm-join.sh (see lib/common.sh).

# swarm_hint MESSAGE MANAGER ROLE: one sentence, the fix for Docker's MESSAGE.
swarm_hint() {
  local m=${1,,} manager=${2:-} token_role=${3:-}
  if [[ $m == *live-restore* ]]; then
    printf 'Docker refuses swarm mode with live-restore: remove "live-restore": true from /etc/docker/daemon.json (or --live-restore from the Docker unit), restart Docker and run up again (preview names every such host).'
  elif [[ $m == *cluster-store* || $m == *cluster-advertise* ]]; then
    printf 'Docker refuses swarm mode while a cluster store is set: take cluster-store and cluster-advertise out of /etc/docker/daemon.json or the unit (pulumi destroy --run-program of the kv-mode stack that set them), restart Docker and run up again.'
  elif [[ $m == *"already part of a swarm"* ]]; then
    printf 'this node is in a swarm already; docker-overlay never leaves a swarm it did not join: docker swarm leave on it by hand if it may leave.'
  elif [[ $m == *locked* || $m == *unlock* ]]; then
    printf 'the swarm is locked: docker swarm unlock on the node with its unlock key, then run up again.'
  elif [[ $m == *token* || $m == *x509* || $m == *certificate* ]]; then
    printf 'the %s join token was refused: it may have been rotated (docker swarm join-token --rotate); run pulumi up --refresh --run-program to read the current one.' "${token_role:-join}"
  elif [[ $m == *"advertise address"* || $m == *"listen address"* || $m == *"listening address"* || $m == *"no such interface"* || $m == *"ip address"* ]]; then
    printf 'Docker cannot use that address: it must be on one of this host'"'"'s interfaces (preview checks which interface routes to the other hosts).'
  elif [[ $m == *"address already in use"* ]]; then
    printf 'a port swarm mode needs (2377/tcp, 7946 tcp and udp, 4789/udp) is taken by another program on this host; free it and run up again.'
  elif [[ $m == *timeout* || $m == *"timed out"* || $m == *"deadline exceeded"* || $m == *refused* || $m == *"no route"* || $m == *unreachable* || $m == *"connection error"* ]]; then
    printf 'this host cannot reach the manager at %s: open 2377/tcp (and 7946 tcp and udp, 4789/udp) between the hosts, then run up again.' "${manager:-its address}"
  else
    printf "see Docker's message; preview checks what it can (live-restore, cluster store, swarm state) before anything changes."
  fi
}
