# shellcheck shell=bash
# Shared by bench/floor-swarm.sh and bench/floor-kv.sh: the lab's hosts from lab.json and the
# few helpers a person would write to do the lab stack's job by hand. Sourced, never run.
LAB_JSON=${LAB_JSON:-/var/lib/docker-overlay-lab/lab.json}
[ -s "$LAB_JSON" ] || { echo "floor: no lab ($LAB_JSON is missing)" >&2; exit 1; }
mapfile -t SOCKS < <(jq -r '.hosts[].dockerSocket' "$LAB_JSON")
mapfile -t ADDRS < <(jq -r '.hosts[].address' "$LAB_JSON")
[ "${#SOCKS[@]}" -ge 3 ] || { echo "floor: needs 3 lab hosts, lab.json has ${#SOCKS[@]}" >&2; exit 1; }
BUSYBOX=$(jq -r .images.busybox "$LAB_JSON")
KEY=$(jq -r .privateKeyPath "$LAB_JSON")
KNOWN=$(jq -r .knownHostsPath "$LAB_JSON")
# shellcheck disable=SC2034 # used by the scripts that source this file
RESTART=$(jq -r '.restartCommand | join(" ")' "$LAB_JSON")
# What Pulumi.lab.yaml asks for.
# shellcheck disable=SC2034
NET=lab_overlay SUBNET=10.220.0.0/24 GATEWAY=10.220.0.1 MTU=1450

# d I ARGS: the docker CLI against host I's daemon, through its socket from this machine.
d() { local i=$1; shift; docker -H "unix://${SOCKS[$i]}" "$@"; }
# on_host I COMMAND: a shell command inside host I, over ssh (pinned host keys).
on_host() {
  local i=$1; shift
  ssh -i "$KEY" -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile="$KNOWN" \
    -o StrictHostKeyChecking=yes "root@${ADDRS[$i]}" "$@"
}
# wait_tcp ADDRESS PORT: until something accepts TCP there (60 s at most).
wait_tcp() {
  local deadline=$((SECONDS + 60))
  until timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "floor: nothing listens on $1:$2 after 60 s" >&2; return 1; }
    sleep 0.1
  done
}
# wait_all PID...: wait for each background job; fail if any failed.
wait_all() { local p rc=0; for p in "$@"; do wait "$p" || rc=1; done; return "$rc"; }
# services: the lab stack's three containers on the overlay, one per host, in parallel.
services() {
  local p=()
  d 0 run -d --name gateway --network "$NET" "$BUSYBOX" sleep 2147483647 >/dev/null & p+=($!)
  d 1 run -d --name service-a --network "$NET" --network-alias a "$BUSYBOX" httpd -f -p 80 -h / >/dev/null & p+=($!)
  d 2 run -d --name service-b --network "$NET" --network-alias b "$BUSYBOX" httpd -f -p 80 -h / >/dev/null & p+=($!)
  wait_all "${p[@]}"
}
