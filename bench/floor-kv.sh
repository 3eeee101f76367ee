#!/usr/bin/env bash
# The floor for a cold `pulumi up` of the lab stack in kv mode (Pulumi.lab.yaml: etcd on the
# first host): only the steps that reach the same end state, in the order docs/lab.md found
# necessary. etcd (v2 API) on host 1's network, daemon.json with cluster-store,
# cluster-advertise and cluster-store-opts on every host and a restart of its dockerd: host 1
# first, then, once etcd answers again and host 1's serf listens, the others in parallel; once
# every serf listens, the overlay lab_overlay 10.220.0.0/24 MTU 1450 and the three containers.
# No checks: bench/bench.ts verifies the result afterwards (untimed).
set -euo pipefail
# shellcheck source=bench/floor-lib.sh
source "$(dirname "$0")/floor-lib.sh"
ETCD_IMAGE=$(jq -r .images.etcd "$LAB_JSON")
store="${ADDRS[0]}:2379"

d 0 run -d --name etcd --network host --restart always "$ETCD_IMAGE" etcd --name=floor \
  --data-dir=/etcd-data --enable-v2=true --listen-client-urls=http://0.0.0.0:2379 \
  --advertise-client-urls="http://$store" --listen-peer-urls=http://127.0.0.1:2380 \
  --initial-advertise-peer-urls=http://127.0.0.1:2380 --initial-cluster=floor=http://127.0.0.1:2380 >/dev/null
wait_tcp "${ADDRS[0]}" 2379

daemon_json=$(printf '{"cluster-store": "etcd://%s", "cluster-advertise": "eth0:2376", "cluster-store-opts": {"discovery.heartbeat": "3", "discovery.ttl": "10"}}' "$store")
configure() { on_host "$1" "mkdir -p /etc/docker && cat > /etc/docker/daemon.json && $RESTART >/dev/null" <<<"$daemon_json"; }

configure 0
until curl -sf "http://$store/v2/keys/" >/dev/null; do sleep 0.1; done
wait_tcp "${ADDRS[0]}" 7946
p=()
for i in "${!SOCKS[@]}"; do [ "$i" = 0 ] || { configure "$i" & p+=($!); }; done
wait_all "${p[@]}"
for i in "${!SOCKS[@]}"; do wait_tcp "${ADDRS[$i]}" 7946; done
d 0 network create -d overlay --subnet "$SUBNET" --gateway "$GATEWAY" \
  --opt com.docker.network.driver.mtu="$MTU" "$NET" >/dev/null
services
