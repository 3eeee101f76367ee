#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# connectivity-check: prove that this host's probe container reaches every other host's probe
# over the overlay, by address and by name (the overlay's DNS).
#
# For each TARGETS item NAME=ADDRESS: `docker exec PROBE ping -c PING_COUNT -W TIMEOUT_SECONDS`
# to ADDRESS and to NAME. Prints one JSON line, whatever the outcome:
#   {"from":"lab1","results":[{"to":"lab2-probe","address":"10.0.1.3","byAddress":true,"byName":true}]}
# and, when any ping fails, one stderr line per failing pair, e.g.
#   docker-overlay: lab1 cannot reach lab2-probe (10.0.1.3) by name over the overlay
# then exits 1. A pair that fails is tried again every POLL_SECONDS until SETTLE_SECONDS have
# passed since the start: the overlay's gossip can take tens of seconds to reach every host of a
# larger cluster (measured: 8 swarm hosts on 2 cores, bench/). A missing or stopped probe
# container fails at once (exit 1, no JSON).
#
# @var PROBE required: name of this host's probe container on the overlay
# @var TARGETS required array: NAME=ADDRESS items, the other hosts' probe names and overlay addresses (may be empty)
# @var PING_COUNT optional: pings per check (default 2)
# @var TIMEOUT_SECONDS optional: seconds to wait for each reply (default 5)
# @var SETTLE_SECONDS optional: how long failing pairs are retried, in all (default 90)
# @var POLL_SECONDS optional: pause between retries (default 3)
# @var DOCKER optional: docker CLI to use (default docker)
# @var HOST_LABEL optional: this host's name in messages and in "from" (default: uname -n)
set -euo pipefail

PING_COUNT=${PING_COUNT:-2}
TIMEOUT_SECONDS=${TIMEOUT_SECONDS:-5}
SETTLE_SECONDS=${SETTLE_SECONDS:-90}
POLL_SECONDS=${POLL_SECONDS:-3}
DOCKER=${DOCKER:-docker}
HOST_LABEL=${HOST_LABEL:-$(uname -n)}

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # @include

[[ -n ${PROBE-} ]] || die 5 "PROBE is required and was not given (see the @var lines at the top of this script)"
declare -p TARGETS >/dev/null 2>&1 || die 5 "TARGETS is required and was not given (see the @var lines at the top of this script)"
as_array TARGETS
[[ $PING_COUNT =~ ^[1-9][0-9]*$ ]] || die 5 "PING_COUNT must be a positive whole number, got '$PING_COUNT'"
[[ $TIMEOUT_SECONDS =~ ^[1-9][0-9]*$ ]] || die 5 "TIMEOUT_SECONDS must be a positive whole number, got '$TIMEOUT_SECONDS'"
[[ $SETTLE_SECONDS =~ ^[0-9]+$ ]] || die 5 "SETTLE_SECONDS must be a whole number, got '$SETTLE_SECONDS'"
[[ $POLL_SECONDS =~ ^[1-9][0-9]*$ ]] || die 5 "POLL_SECONDS must be a positive whole number, got '$POLL_SECONDS'"
for item in ${TARGETS[@]+"${TARGETS[@]}"}; do
  [[ $item =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*=[0-9A-Fa-f.:]+$ ]] || die 5 "TARGETS item '$item' is not NAME=ADDRESS (a container name and an IP address)"
done

dk() { timeout $((PING_COUNT * TIMEOUT_SECONDS + 30)) "$DOCKER" "$@"; }

if ! running=$(dk inspect --format '{{.State.Running}}' "$PROBE" 2>&1); then
  die 1 "the probe container $PROBE is not there ($running); it must run on this host, attached to the overlay"
fi
[[ $running == true ]] || die 1 "the probe container $PROBE is not running; start it (docker start $PROBE) and run again"

ping_ok() { dk exec "$PROBE" ping -c "$PING_COUNT" -W "$TIMEOUT_SECONDS" "$1" >/dev/null 2>&1; }

results=()
failures=()
retried=''
if ((SETTLE_SECONDS > 0)); then retried=" (retried for ${SETTLE_SECONDS}s)"; fi
deadline=$((SECONDS + SETTLE_SECONDS))
for item in ${TARGETS[@]+"${TARGETS[@]}"}; do
  name=${item%%=*}
  address=${item#*=}
  by_address=false
  by_name=false
  while :; do
    if [[ $by_address == false ]] && ping_ok "$address"; then by_address=true; fi
    if [[ $by_name == false ]] && ping_ok "$name"; then by_name=true; fi
    if [[ $by_address == true && $by_name == true ]] || ((SECONDS >= deadline)); then break; fi
    sleep "$POLL_SECONDS"
  done
  results+=("{\"to\":\"$name\",\"address\":\"$address\",\"byAddress\":$by_address,\"byName\":$by_name}")
  how=''
  if [[ $by_address == false && $by_name == false ]]; then how='by address or by name'
  elif [[ $by_address == false ]]; then how='by address'
  elif [[ $by_name == false ]]; then how='by name'
  fi
  if [[ -n $how ]]; then
    failures+=("docker-overlay: $HOST_LABEL cannot reach $name ($address) $how over the overlay$retried")
  fi
done

joined=''
if ((${#results[@]} > 0)); then
  joined=$(IFS=,; printf '%s' "${results[*]}")
fi
printf '{"from":%s,"results":[%s]}\n' "$(json_str "$HOST_LABEL")" "$joined"
if ((${#failures[@]} > 0)); then
  printf '%s\n' "${failures[@]}" >&2
  exit 1
fi
