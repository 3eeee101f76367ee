#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# firewall: docker-overlay's packet filter on this host (`firewall: true`): the cluster's ports
# (the store's, swarm's, gossip and VXLAN) accept only the cluster's hosts.
#
# Every rule lives in one chain of its own, $CHAIN in iptables' filter table, reached by one jump
# at the top of INPUT; nothing else of the host's rules is touched, and remove takes out exactly
# the jump and the chain. In the chain, in order: loopback, Docker's bridges on this host
# (containers here, such as a service asking the registry), each of PEERS, and OPERATOR_ADDRESS
# for OPERATOR_PORTS/tcp go on through INPUT as before (RETURN); any other source is refused on
# TCP_PORTS (TCP reset) and UDP_PORTS (ICMP port unreachable). Other ports are not filtered.
#
# ACTION=apply (create, update): makes the chain (or empties it) and fills it, then makes sure
#   the jump is there, once. ACTION=remove (delete): the jump and the chain go.
# Prints one line on stderr saying what it did.
#
# @var ACTION required: apply or remove
# @var PEERS optional array: apply: the IPv4 addresses of the cluster's hosts
# @var TCP_PORTS optional array: apply: ports or ranges (8300:8302) to filter, TCP
# @var UDP_PORTS optional array: apply: ports or ranges to filter, UDP
# @var OPERATOR_PORTS optional array: apply: TCP ports also open to OPERATOR_ADDRESS (the Consul provider's)
# @var OPERATOR_ADDRESS optional: apply: where `pulumi` runs from (default: the client address of this SSH session, the first word of $SSH_CONNECTION)
# @var CHAIN optional: the chain's name (default DOCKER-OVERLAY)
# @var IPTABLES optional: the iptables command (default iptables)
# @var STATE_DIR optional: docker-overlay's state directory on the host (default /var/lib/docker-overlay)
# @var HOST_LABEL optional: this host's name in messages (default: uname -n)
# @var OWNER optional: "<project>/<stack>" of the run; another stack's host is refused, exit 6 (lib/owner.sh)
set -euo pipefail

CHAIN=${CHAIN:-DOCKER-OVERLAY}
IPTABLES=${IPTABLES:-iptables}
STATE_DIR=${STATE_DIR:-/var/lib/docker-overlay}
HOST_LABEL=${HOST_LABEL:-$(uname -n)}

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # @include
# shellcheck source=lib/owner.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/owner.sh" # @include

as_array PEERS
as_array TCP_PORTS
as_array UDP_PORTS
as_array OPERATOR_PORTS

[[ $CHAIN =~ ^[A-Za-z0-9_-]{1,28}$ ]] || die 5 "CHAIN must be a chain name (letters, digits, '_', '-'; at most 28), got '$CHAIN'"
command -v "$IPTABLES" >/dev/null 2>&1 || die 1 "$IPTABLES is missing on this host: install iptables, or set firewall: false. Nothing was changed."
ipt() { timeout 30 "$IPTABLES" -w 10 "$@"; }
JUMP=(INPUT -m comment --comment docker-overlay -j "$CHAIN")

is_ipv4() { [[ $1 =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]]; }
is_ports() { [[ $1 =~ ^[0-9]{1,5}(:[0-9]{1,5})?$ ]]; }

case ${ACTION-} in
  apply)
    OPERATOR_ADDRESS=${OPERATOR_ADDRESS:-${SSH_CONNECTION%% *}}
    ((${#PEERS[@]} > 0)) || die 5 "PEERS is empty: give the addresses of the cluster's hosts"
    for a in "${PEERS[@]}"; do is_ipv4 "$a" || die 5 "PEERS: '$a' is not an IPv4 address (the firewall filters IPv4 only)"; done
    for p in ${TCP_PORTS[@]+"${TCP_PORTS[@]}"} ${UDP_PORTS[@]+"${UDP_PORTS[@]}"} ${OPERATOR_PORTS[@]+"${OPERATOR_PORTS[@]}"}; do
      is_ports "$p" || die 5 "'$p' is not a port or a range such as 8300:8302"
    done
    if ((${#OPERATOR_PORTS[@]} > 0)) && ! is_ipv4 "${OPERATOR_ADDRESS:-}"; then
      die 5 "cannot tell where pulumi runs from (OPERATOR_ADDRESS is '${OPERATOR_ADDRESS:-}', and \$SSH_CONNECTION gives no IPv4 address); nothing was changed"
    fi
    lock_host
    claim_host
    if ipt -S "$CHAIN" >/dev/null 2>&1; then ipt -F "$CHAIN"; else ipt -N "$CHAIN"; fi
    ipt -A "$CHAIN" -i lo -j RETURN
    for bridge in docker0 docker_gwbridge 'br-+'; do ipt -A "$CHAIN" -i "$bridge" -j RETURN; done
    for a in "${PEERS[@]}"; do ipt -A "$CHAIN" -s "$a/32" -j RETURN; done
    if ((${#OPERATOR_PORTS[@]} > 0)); then
      ops=$(IFS=,; echo "${OPERATOR_PORTS[*]}")
      ipt -A "$CHAIN" -s "$OPERATOR_ADDRESS/32" -p tcp -m multiport --dports "$ops" -j RETURN
    fi
    if ((${#TCP_PORTS[@]} > 0)); then
      tcp=$(IFS=,; echo "${TCP_PORTS[*]}")
      ipt -A "$CHAIN" -p tcp -m multiport --dports "$tcp" -j REJECT --reject-with tcp-reset
    fi
    if ((${#UDP_PORTS[@]} > 0)); then
      udp=$(IFS=,; echo "${UDP_PORTS[*]}")
      ipt -A "$CHAIN" -p udp -m multiport --dports "$udp" -j REJECT --reject-with icmp-port-unreachable
    fi
    ipt -C "${JUMP[@]}" 2>/dev/null || ipt -I "${JUMP[0]}" 1 "${JUMP[@]:1}"
    printf 'docker-overlay: %s: chain %s: tcp %s, udp %s accept only %s%s\n' "$HOST_LABEL" "$CHAIN" "${tcp:-none}" "${udp:-none}" "${PEERS[*]}" \
      "${ops:+ (and $OPERATOR_ADDRESS on tcp $ops)}" >&2
    ;;
  remove)
    lock_host
    check_owner
    while ipt -C "${JUMP[@]}" 2>/dev/null; do ipt -D "${JUMP[@]}"; done
    if ipt -S "$CHAIN" >/dev/null 2>&1; then
      ipt -F "$CHAIN"
      ipt -X "$CHAIN"
    fi
    release_host
    printf 'docker-overlay: %s: chain %s removed\n' "$HOST_LABEL" "$CHAIN" >&2
    ;;
  *) die 5 "ACTION must be apply or remove, got '${ACTION-}'" ;;
esac
