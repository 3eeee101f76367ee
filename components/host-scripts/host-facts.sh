#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# host-facts: everything the stack reads about a host, the one source of host facts: `pulumi
# preview`'s and `up`'s preflight runs it over SSH before the program may touch a host
# (components/hostProbe.ts), and `up` uses that reading (the interface, address and MTU towards
# the peers, the engine); without preflight, `up` runs it as each DockerHost's first command
# instead. Both parse it with components/hostFacts.ts. Read-only: it
# writes no file, loads no module and restarts nothing. Prints one JSON line and exits 0; a fact it
# cannot read is reported in that line, not as a failure (but see STRICT):
#   {"hostname":"lab1",
#    "dockerInfo":{"exit":0,"base64":"<docker info --format '{{json .}}', base64>","stderr":""},
#    "interfaces":[{"name":"eth0","mtu":1500,"up":true,"addresses":["10.210.0.11/24"]}],
#    "routes":[{"to":"10.210.0.12","interface":"eth0","source":"10.210.0.11","error":""}],
#    "vxlan":"loaded|builtin|loadable|missing",
#    "daemonJson":{"present":true,"base64":"<the file's bytes, base64>"},
#    "unitOptions":[{"file":"/lib/systemd/system/docker.service","line":12,"option":"cluster-store"}],
#    "dockerd":"<boot ID>/<start ticks>","epoch":"<the content of $STATE_DIR/dockerd-epoch>",
#    "owner":"<the stack recorded in $STATE_DIR/owner>","clusterStore":"consul://10.210.0.11:8500"}
# interfaces: from `ip -o link` and `ip -o addr` (netlink).
# dockerInfo: the daemon's own report (engine version, ID, registered name, swarm state), kept
# raw so that the caller parses it; exit is docker's exit status. routes: `ip -o route get` to
# each of PEERS; when that is lo because the peer is this host's own address, the interface that
# carries it. vxlan: loaded (SYS_MODULE_DIR/vxlan), builtin (modules.builtin or the kernel
# config), loadable (modules.dep lists it), else missing. unitOptions: every active line of the
# Docker unit, its drop-ins, /etc/default/docker or /etc/sysconfig/docker that passes
# --cluster-store, --cluster-advertise or --cluster-store-opt. dockerd: which daemon runs (it
# changes with every start of Docker; "" when none runs); epoch: what overlay-rejoin recorded the
# last time it ran ("" when it never did): together they show a restart outside the stack.
# owner: the stack ("<project>/<stack>") that configured this host ("" when none: lib/owner.sh).
# user: the SSH user's uid and name, and whether it can write the state directory, daemon.json
# and the host lock (nothing is created to find out). lockHeld: another docker-overlay script
# holds the host lock now. A peer given as a DNS name is resolved as this host resolves it.
# clusterStore: the daemon's own report, read through `docker system dial-stdio` when the docker
# CLI leaves it out of `docker info` (23+ no longer knows the field); "" when unset.
#
# @var PEERS optional array: the peers' addresses to route to (may include this host's own)
# @var DOCKER optional: docker CLI to use (default docker)
# @var DOCKER_TIMEOUT optional: seconds to wait for `docker info` (default 10)
# @var DOCKER_CONFIG_DIR optional: directory of daemon.json (default /etc/docker)
# @var SYSTEMD_UNIT_PATHS optional array: unit files or drop-in directories to scan for cluster flags (default: the usual docker.service locations, /etc/default/docker, /etc/sysconfig/docker and systemctl cat docker.service)
# @var SYS_MODULE_DIR optional: where loaded modules show (default /sys/module)
# @var KERNEL_MODULES_DIR optional: the running kernel's modules (default /lib/modules/$(uname -r))
# @var KERNEL_CONFIG optional: the running kernel's gzipped config (default /proc/config.gz)
# @var PID_FILE optional: dockerd's pid file (default /var/run/docker.pid)
# @var STATE_DIR optional: docker-overlay's state directory on the host (default /var/lib/docker-overlay)
# @var LOCK_FILE optional: the host lock of lib/owner.sh (default /run/lock/docker-overlay.lock), only looked at
# @var HOST_LABEL optional: this host's name in messages (default: uname -n)
# @var STRICT optional: 1 to fail (exit 1, saying what to fix) when Docker does not answer or a peer has no usable route, which `up` cannot go on without; preview's preflight leaves it unset and reports every problem at once
set -euo pipefail

DOCKER=${DOCKER:-docker}
DOCKER_TIMEOUT=${DOCKER_TIMEOUT:-10}
DOCKER_CONFIG_DIR=${DOCKER_CONFIG_DIR:-/etc/docker}
SYS_MODULE_DIR=${SYS_MODULE_DIR:-/sys/module}
KERNEL_MODULES_DIR=${KERNEL_MODULES_DIR:-/lib/modules/$(uname -r)}
KERNEL_CONFIG=${KERNEL_CONFIG:-/proc/config.gz}
HOST_LABEL=${HOST_LABEL:-$(uname -n)}
STATE_DIR=${STATE_DIR:-/var/lib/docker-overlay}
STRICT=${STRICT:-0}

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # @include
dk() { timeout "$DOCKER_TIMEOUT" "$DOCKER" "$@"; }
# shellcheck source=lib/daemon.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/daemon.sh" # @include
# shellcheck source=lib/dockerd-identity.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/dockerd-identity.sh" # @include

# join SEP ITEM...: the items separated by SEP.
join() {
  local sep=$1 out='' item
  shift
  for item in "$@"; do out+=${out:+$sep}$item; done
  printf '%s' "$out"
}

as_array PEERS
unit_paths
[[ $DOCKER_TIMEOUT =~ ^[0-9]+$ ]] || die 5 "DOCKER_TIMEOUT must be a whole number of seconds, got '$DOCKER_TIMEOUT'"

# --- Docker ----------------------------------------------------------------------------------
# Nothing goes through a temporary file: this script writes nothing on the host. stderr is
# asked for in a second run, and only when the first one failed.
info_err=''
info_out=$(timeout "$DOCKER_TIMEOUT" "$DOCKER" info --format '{{json .}}' 2>/dev/null) && info_exit=0 || info_exit=$?
if ((info_exit == 124)); then
  info_err="docker info did not answer within $DOCKER_TIMEOUT seconds"
elif ((info_exit != 0)); then
  info_err=$(timeout "$DOCKER_TIMEOUT" "$DOCKER" info --format '{{json .}}' 2>&1 >/dev/null) || true
fi
if ((info_exit != 0)) && [[ $STRICT == 1 ]]; then
  die 1 "Docker is not answering ($(one_line "$info_err")); install or start Docker (systemctl start docker) and run again"
fi
# The cluster store as the daemon reports it: in docker info's JSON from a CLI of 22 or older,
# else asked for through dial-stdio (lib/daemon.sh).
store=''
if ((info_exit == 0)); then
  store_re='"ClusterStore":"([^"]*)"'
  if [[ $info_out =~ $store_re ]]; then
    store=${BASH_REMATCH[1]}
  elif ! store=$(cluster_store); then
    [[ $STRICT != 1 ]] || die 1 "Docker stopped answering while being asked about its cluster store"
    store=''
  fi
fi
docker_json=$(printf '{"exit":%s,"base64":"%s","stderr":%s}' "$info_exit" "$(printf '%s' "$info_out" | base64 -w0)" "$(json_str "$(one_line "$info_err")")")

# --- interfaces ------------------------------------------------------------------------------
declare -A addrs=()
while read -r -a fields; do
  # "2: eth0    inet 10.210.0.11/24 brd ..." / "2: eth0    inet6 fd00::2/64 scope global ..."
  ((${#fields[@]} >= 4)) || continue
  [[ ${fields[2]} == inet || ${fields[2]} == inet6 ]] || continue
  name=${fields[1]%@*}
  addrs[$name]+="${addrs[$name]:+ }${fields[3]}"
done < <(ip -o addr show 2>/dev/null || true)
interfaces=()
# From netlink (`ip -o link`), not /sys/class/net: a sysfs mounted in another network namespace
# (containers, the lab's hosts) lists that namespace's devices and MTUs, not this one's.
#   "2: eth0@if208: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP ..."
while read -r -a fields; do
  ((${#fields[@]} >= 3)) || continue
  name=${fields[1]%:}
  name=${name%@*}
  flags=${fields[2]}
  mtu=0
  for ((i = 3; i + 1 < ${#fields[@]}; i++)); do
    if [[ ${fields[i]} == mtu ]]; then mtu=${fields[i + 1]}; break; fi
  done
  [[ $mtu =~ ^[0-9]+$ ]] || mtu=0
  up=false
  if [[ $flags == *[\<,]UP[,\>]* ]]; then up=true; fi
  list=()
  for a in ${addrs[$name]-}; do list+=("$(json_str "$a")"); done
  interfaces+=("$(printf '{"name":%s,"mtu":%s,"up":%s,"addresses":[%s]}' "$(json_str "$name")" "$((10#$mtu))" "$up" "$(join , ${list[@]+"${list[@]}"})")")
done < <(ip -o link show 2>/dev/null || true)

# --- routes to the peers ---------------------------------------------------------------------
routes=()
for peer in ${PEERS[@]+"${PEERS[@]}"}; do
  interface='' source='' error='' ip=''
  # A DNS name (hosts[].address may be one) is resolved as this host resolves it.
  if ! ip=$(resolve_address "$peer"); then
    error="this host cannot resolve $peer (getent ahosts): add it to its DNS or /etc/hosts, or give the address as an IP"
  elif ! route=$(ip -o route get "$ip" 2>&1); then
    error="no route ($(one_line "$route"))"
  else
    read -r -a words <<<"$route"
    for ((i = 0; i + 1 < ${#words[@]}; i++)); do
      case ${words[i]} in
        dev) interface=${words[i + 1]} ;;
        src) source=${words[i + 1]} ;;
      esac
    done
    if [[ $interface == lo ]]; then
      # The peer is this host's own address: the interface that carries it (lo for 127.0.0.1).
      for name in "${!addrs[@]}"; do
        for a in ${addrs[$name]}; do
          if [[ ${a%/*} == "$ip" ]]; then interface=$name source=$ip; fi
        done
      done
    fi
    [[ -n $interface ]] || error="cannot tell the interface from: $(one_line "$route")"
    [[ -n $error || -n $source ]] || error="cannot tell this host's address from: $(one_line "$route")"
  fi
  if [[ -n $error && $STRICT == 1 ]]; then
    if [[ -z $ip ]]; then die 1 "$error"; fi
    die 1 "no usable route to $peer: $error; check the address and this host's network"
  fi
  routes+=("$(printf '{"to":%s,"interface":%s,"source":%s,"error":%s}' "$(json_str "$peer")" "$(json_str "$interface")" "$(json_str "$source")" "$(json_str "$error")")")
done

# --- VXLAN -----------------------------------------------------------------------------------
# file_has_module FILE: true when FILE (modules.builtin or modules.dep) lists vxlan.ko (any
# compression); a loop rather than grep, which the host contract does not promise.
file_has_module() {
  local line
  [[ -r $1 ]] || return 1
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%%:*}
    if [[ $line == vxlan.ko* || $line == */vxlan.ko* ]]; then return 0; fi
  done <"$1"
  return 1
}
config_has_vxlan() {
  local line
  [[ -r $KERNEL_CONFIG ]] || return 1
  while IFS= read -r line; do
    if [[ $line == CONFIG_VXLAN=y ]]; then return 0; fi
  done < <(zcat -- "$KERNEL_CONFIG" 2>/dev/null || true)
  return 1
}
vxlan=missing
if [[ -d $SYS_MODULE_DIR/vxlan ]]; then
  vxlan=loaded
elif file_has_module "$KERNEL_MODULES_DIR/modules.builtin" || config_has_vxlan; then
  vxlan=builtin
elif file_has_module "$KERNEL_MODULES_DIR/modules.dep"; then
  vxlan=loadable
fi

# --- daemon.json -----------------------------------------------------------------------------
config=$DOCKER_CONFIG_DIR/daemon.json
if [[ -e $config ]]; then
  if content=$(base64 -w0 -- "$config" 2>/dev/null); then
    daemon_json=$(printf '{"present":true,"base64":"%s"}' "$content")
  else
    daemon_json=$(printf '{"present":true,"base64":null,"error":%s}' "$(json_str "cannot read $config")")
  fi
else
  daemon_json='{"present":false}'
fi

# --- cluster options in the unit -------------------------------------------------------------
unit_options=()
while IFS=$'\t' read -r file line option; do
  [[ -n $file ]] || continue
  unit_options+=("$(printf '{"file":%s,"line":%s,"option":"%s"}' "$(json_str "$file")" "$line" "$option")")
done < <(unit_cluster_flags)

# --- which dockerd runs, and what overlay-rejoin recorded ------------------------------------
dockerd=$(dockerd_identity) || dockerd=''
epoch=$(head -c 200 -- "$STATE_DIR/dockerd-epoch" 2>/dev/null) || epoch=''
owner=$(head -c 300 -- "$STATE_DIR/owner" 2>/dev/null) || owner=''

# --- the SSH user: what up will need (read only: nothing is created here) -----------------------
# writable PATH: PATH is writable, or does not exist and its nearest existing parent is.
writable() {
  local p=$1
  while [[ ! -e $p && $p != / ]]; do p=$(dirname -- "$p"); done
  [[ -w $p ]]
}
bool() { if "$@"; then printf true; else printf false; fi; }
lock=${LOCK_FILE:-/run/lock/docker-overlay.lock}
user_json=$(printf '{"uid":%s,"name":%s,"stateWritable":%s,"dockerConfigWritable":%s,"lockWritable":%s}' \
  "$(id -u)" "$(json_str "$(id -un 2>/dev/null || true)")" "$(bool writable "$STATE_DIR")" "$(bool writable "$DOCKER_CONFIG_DIR/daemon.json")" "$(bool writable "$lock")")
# What the host scripts recorded of their last run here (drift, components/drift.ts).
number_in() { local n; n=$(head -c 20 -- "$1" 2>/dev/null | tr -dc 0-9) || n=''; printf '%s' "${n:-0}"; }
changed=false
if [[ -e $STATE_DIR/daemon.json.ours ]]; then
  if ! same_bytes "$STATE_DIR/daemon.json.ours" "$DOCKER_CONFIG_DIR/daemon.json"; then changed=true; fi
fi
marker=''
for m in swarm-created swarm-joined; do if [[ -e $STATE_DIR/$m ]]; then marker=$m; fi; done
applied_json=$(printf '{"daemonJsonChanged":%s,"applyEpoch":%s,"swarmMarker":"%s","joinEpoch":%s}' "$changed" "$(number_in "$STATE_DIR/apply-epoch")" "$marker" "$(number_in "$STATE_DIR/join-epoch")")
# Another docker-overlay script holds the host lock right now (Docker may be restarting).
lock_held=false
if [[ -e $lock ]] && command -v flock >/dev/null 2>&1 && ! flock -n "$lock" true 2>/dev/null; then lock_held=true; fi

printf '{"hostname":%s,"dockerInfo":%s,"interfaces":[%s],"routes":[%s],"vxlan":"%s","daemonJson":%s,"unitOptions":[%s],"dockerd":%s,"epoch":%s,"owner":%s,"user":%s,"lockHeld":%s,"applied":%s,"clusterStore":%s}\n' \
  "$(json_str "$(uname -n)")" "$docker_json" \
  "$(join , ${interfaces[@]+"${interfaces[@]}"})" "$(join , ${routes[@]+"${routes[@]}"})" "$vxlan" "$daemon_json" \
  "$(join , ${unit_options[@]+"${unit_options[@]}"})" "$(json_str "$dockerd")" "$(json_str "$(one_line "$epoch")")" "$(json_str "$(one_line "$owner")")" "$user_json" "$lock_held" "$applied_json" "$(json_str "$store")"
