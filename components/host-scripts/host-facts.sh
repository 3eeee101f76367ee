#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# host-facts: what the program needs to know about a host before it changes anything.
# Prints one JSON line:
#   {"hostname":"lab1","engineVersion":"20.10.24","interface":"eth0","address":"10.210.0.11",
#    "mtu":1500,"swarmState":"inactive","engineId":"...","clusterStore":"","daemonName":"lab1"}
# interface/address: the route to TARGET_ADDRESS (`ip -o route get`: dev and src); when that is
# lo because TARGET_ADDRESS is this host's own address, the interface carrying that address.
# mtu: from `ip -o link`. hostname: uname -n. daemonName: the name the daemon registers
# with (docker info .Name), which must differ between hosts on an overlay and which dockerd
# only rereads when it restarts. clusterStore: the daemon's own report, read through
# `docker system dial-stdio` because docker CLI 23+ no longer knows the field.
# Fails (exit 1) when there is no route or Docker does not answer.
#
# @var TARGET_ADDRESS required: the peer to route to (may be this host's own address)
# @var DOCKER optional: docker CLI to use (default docker)
# @var HOST_LABEL optional: this host's name in messages (default: uname -n)
set -euo pipefail

DOCKER=${DOCKER:-docker}
HOST_LABEL=${HOST_LABEL:-$(uname -n)}

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # @include

dk() { timeout 30 "$DOCKER" "$@"; }

# shellcheck source=lib/daemon.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/daemon.sh" # @include

[[ -n ${TARGET_ADDRESS-} ]] || die 5 "TARGET_ADDRESS is required and was not given (see the @var lines at the top of this script)"

# --- network ---------------------------------------------------------------------------------
# A DNS name (hosts[].address may be one) is resolved as this host resolves it.
target=$(resolve_address "$TARGET_ADDRESS") || die 1 "this host cannot resolve $TARGET_ADDRESS (getent ahosts); add it to its DNS or /etc/hosts, or give the address as an IP"
if ! route=$(ip -o route get "$target" 2>&1); then
  die 1 "no route to $TARGET_ADDRESS ($(one_line "$route")); check the address and this host's network"
fi
read -r -a words <<<"$route"
interface=''
address=''
for ((i = 0; i + 1 < ${#words[@]}; i++)); do
  case ${words[i]} in
    dev) interface=${words[i + 1]} ;;
    src) address=${words[i + 1]} ;;
  esac
done
[[ -n $interface ]] || die 1 "cannot tell the interface towards $TARGET_ADDRESS from: $(one_line "$route")"
if [[ $interface == lo ]]; then
  # TARGET_ADDRESS is local: find the interface that carries it (lo itself for 127.0.0.1).
  while read -r -a fields; do
    # "4: eth0    inet 192.0.2.2/24 brd ..." / "4: eth0    inet6 fd00::2/64 ..."
    if [[ ${fields[3]%/*} == "$target" ]]; then
      interface=${fields[1]%@*}
      address=$target
      break
    fi
  done < <(ip -o addr show)
fi
[[ -n $address ]] || die 1 "cannot tell this host's address towards $TARGET_ADDRESS from: $(one_line "$route")"
# From netlink (ip), not /sys/class/net: /sys shows the devices of the network namespace it was
# mounted in, which need not be this process's (it is not on the lab's hosts).
link=$(ip -o link show dev "$interface" 2>/dev/null) || die 1 "cannot read the link of $interface (ip -o link show dev $interface)"
[[ $link =~ [[:space:]]mtu[[:space:]]([0-9]+) ]] || die 1 "cannot read the MTU of $interface from: $link"
mtu=${BASH_REMATCH[1]}

# --- Docker ----------------------------------------------------------------------------------
if ! engine_version=$(dk version --format '{{.Server.Version}}' 2>&1); then
  die 1 "Docker is not answering ($(one_line "$engine_version")); install or start Docker (systemctl start docker) and run again"
fi
engine_id=$(dk info --format '{{.ID}}')
daemon_name=$(dk info --format '{{.Name}}')
swarm_state=$(dk info --format '{{.Swarm.LocalNodeState}}')
store=$(cluster_store) || die 1 "Docker stopped answering while being asked about its cluster store"

printf '{"hostname":%s,"engineVersion":%s,"interface":%s,"address":%s,"mtu":%s,"swarmState":%s,"engineId":%s,"clusterStore":%s,"daemonName":%s}\n' \
  "$(json_str "$(uname -n)")" "$(json_str "$engine_version")" "$(json_str "$interface")" "$(json_str "$address")" \
  "$((10#$mtu))" "$(json_str "$swarm_state")" "$(json_str "$engine_id")" "$(json_str "$store")" "$(json_str "$daemon_name")"
