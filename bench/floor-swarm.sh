#!/usr/bin/env bash
# The floor for a cold `pulumi up` of the lab stack in swarm mode: only the steps that reach
# the same end state, with the docker CLI on each host's socket, hosts in parallel. Swarm init
# on the first host, every other host joins (in parallel) as a worker, an attachable overlay
# lab_overlay 10.220.0.0/24 with MTU 1450, and the stack's three containers on it. No checks:
# bench/bench.ts verifies the result afterwards (untimed).
set -euo pipefail
# shellcheck source=bench/floor-lib.sh
source "$(dirname "$0")/floor-lib.sh"

d 0 swarm init --advertise-addr "${ADDRS[0]}" >/dev/null
token=$(d 0 swarm join-token -q worker)
p=()
for i in "${!SOCKS[@]}"; do
  [ "$i" = 0 ] && continue
  d "$i" swarm join --advertise-addr "${ADDRS[$i]}" --token "$token" "${ADDRS[0]}:2377" >/dev/null & p+=($!)
done
wait_all "${p[@]}"
d 0 network create -d overlay --attachable --subnet "$SUBNET" --gateway "$GATEWAY" \
  --opt com.docker.network.driver.mtu="$MTU" "$NET" >/dev/null
services
