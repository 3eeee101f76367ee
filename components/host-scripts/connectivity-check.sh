#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# connectivity-check: prove that this host's probe container reaches every other host's probe
# over the overlay, by address and by name (the overlay's DNS).
#
# Every TARGETS item NAME=ADDRESS is pinged from inside PROBE, by ADDRESS and by NAME
# (`ping -c PING_COUNT -W TIMEOUT_SECONDS`: one reply is the proof), all in ONE
# `docker exec PROBE sh -c ...`: the probe's shell pings the targets one after the other, each
# returning at its first reply, and prints "ok TARGET" or "no TARGET" for each. So the check
# costs one exec and a round trip per target (it was one exec and one second of ping interval
# per pair and way: 14 s on 8 hosts). One after the other, not all at once: with every target
# pinged at the same moment from every host, 5 of 10 cold 8-host ups on the lab waited about
# 55 s for some pair, against none of 4 with one ping at a time (bench/README.md). A probe image
# without `sh` gets one `docker exec PROBE ping` per target and way, slower but the same proof.
#
# Prints one JSON line, whatever the outcome:
#   {"from":"lab1","results":[{"to":"lab2-probe","address":"10.0.1.3","byAddress":true,"byName":true}]}
# and, when any ping fails, one stderr line per failing pair, e.g.
#   docker-overlay: lab1 cannot reach lab2-probe (10.0.1.3) by name over the overlay
# then exits 1. A target that does not answer is tried again every POLL_SECONDS until
# SETTLE_SECONDS have passed since the start: the overlay's gossip can take tens of seconds to
# reach every host of a larger cluster (measured: 8 swarm hosts on 2 cores, bench/). A missing or
# stopped probe container fails at once (exit 1, no JSON).
#
# @var PROBE required: name of this host's probe container on the overlay
# @var TARGETS required array: NAME=ADDRESS items, the other hosts' probe names and overlay addresses (may be empty)
# @var PING_COUNT optional: pings per try; any reply passes (default 1)
# @var TIMEOUT_SECONDS optional: seconds to wait for a reply (default 2)
# @var SETTLE_SECONDS optional: how long failing targets are retried, in all (default 90)
# @var POLL_SECONDS optional: pause between retries (default 1)
# @var DOCKER optional: docker CLI to use (default docker)
# @var HOST_LABEL optional: this host's name in messages and in "from" (default: uname -n)
set -euo pipefail

PING_COUNT=${PING_COUNT:-1}
TIMEOUT_SECONDS=${TIMEOUT_SECONDS:-2}
SETTLE_SECONDS=${SETTLE_SECONDS:-90}
POLL_SECONDS=${POLL_SECONDS:-1}
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

# Every target: each address, then each name (validated above: no shell in them).
pinged=()
for item in ${TARGETS[@]+"${TARGETS[@]}"}; do pinged+=("${item#*=}" "${item%%=*}"); done

# Run by the probe's sh (POSIX; busybox's ash): $1 ping count, $2 reply timeout, $3 seconds to
# retry, $4 pause, then the targets (names and addresses: no blanks, no glob characters). Passes
# over the targets not yet answered, one ping at a time, until none is left or time is up.
# shellcheck disable=SC2016 # expanded by the probe's shell, not here
IN_PROBE='n=$1; w=$2; settle=$3; poll=$4; shift 4
end=$(( $(date +%s) + settle ))
pending="$*"
while [ -n "$pending" ]; do
  left=""
  for t in $pending; do
    if ping -c "$n" -W "$w" "$t" >/dev/null 2>&1; then echo "ok $t"; else left="$left $t"; fi
  done
  pending=$left
  if [ -z "$pending" ] || [ "$(date +%s)" -ge "$end" ]; then break; fi
  sleep "$poll"
done
for t in $pending; do echo "no $t"; done'

declare -A answered=()
in_probe() {
  local out rc=0 line
  out=$(timeout $((SETTLE_SECONDS + PING_COUNT * TIMEOUT_SECONDS + 30)) "$DOCKER" exec "$PROBE" \
    sh -c "$IN_PROBE" sh "$PING_COUNT" "$TIMEOUT_SECONDS" "$SETTLE_SECONDS" "$POLL_SECONDS" "${pinged[@]}" 2>/dev/null) || rc=$?
  while IFS= read -r line; do
    case $line in "ok "*) answered[${line#ok }]=true ;; esac
  done <<<"$out"
  # 126/127: the probe has no sh (docker exec could not start it); nothing was pinged.
  ((rc != 126 && rc != 127)) || [[ $out == *[a-z]* ]]
}

ping_ok() { dk exec "$PROBE" ping -c "$PING_COUNT" -W "$TIMEOUT_SECONDS" "$1" >/dev/null 2>&1; }
one_by_one() {
  local t deadline=$((SECONDS + SETTLE_SECONDS)) left
  while :; do
    left=0
    for t in "${pinged[@]}"; do
      [[ -z ${answered[$t]-} ]] || continue
      if ping_ok "$t"; then answered[$t]=true; else left=1; fi
    done
    ((left == 1 && SECONDS < deadline)) || break
    sleep "$POLL_SECONDS"
  done
}

if ((${#pinged[@]} > 0)); then
  in_probe || one_by_one
fi

results=()
failures=()
retried=''
if ((SETTLE_SECONDS > 0)); then retried=" (retried for ${SETTLE_SECONDS}s)"; fi
for item in ${TARGETS[@]+"${TARGETS[@]}"}; do
  name=${item%%=*}
  address=${item#*=}
  by_address=${answered[$address]:-false}
  by_name=${answered[$name]:-false}
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
