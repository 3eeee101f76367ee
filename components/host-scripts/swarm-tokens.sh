#!/usr/bin/env bash
# swarm-tokens: print this manager's join tokens as one JSON line:
# {"worker":"SWMTKN-...","manager":"SWMTKN-..."}. The tokens are secrets: the component marks
# stdout secret and turns logging off. Nothing else is printed on stdout.
#
# @var DOCKER optional: docker CLI to use (default docker)
# @var HOST_LABEL optional: this host's name in messages (default: uname -n)
set -euo pipefail

DOCKER=${DOCKER:-docker}
HOST_LABEL=${HOST_LABEL:-$(uname -n)}

die() { local code=$1; shift; printf 'docker-overlay: %s: %s\n' "$HOST_LABEL" "$*" >&2; exit "$code"; }
scrub() {
  local s=${1//$'\r'/ }
  s=${s//$'\n'/ }
  # Never let anything token-shaped through, whatever docker printed.
  while [[ $s =~ SWMTKN-[A-Za-z0-9-]+ ]]; do s=${s//"${BASH_REMATCH[0]}"/[join token hidden]}; done
  printf '%s' "$s"
}
dk() { timeout 60 "$DOCKER" "$@"; }

if ! control=$(dk info --format '{{.Swarm.ControlAvailable}}' 2>&1); then
  die 1 "Docker is not answering ($(scrub "$control")); start Docker and run again"
fi
[[ $control == true ]] || die 1 "this node is not a swarm manager, so it has no join tokens; run swarm-init on it first"
# token ROLE: prints the ROLE join token (and nothing else).
token() {
  local out
  if ! out=$(dk swarm join-token -q "$1" 2>&1); then
    die 1 "docker swarm join-token $1 failed: $(scrub "$out")"
  fi
  [[ $out =~ ^SWMTKN-[A-Za-z0-9-]+$ ]] || die 1 "docker swarm join-token -q $1 printed something that is not a join token"
  printf '%s' "$out"
}
worker=$(token worker)
manager=$(token manager)
printf '{"worker":"%s","manager":"%s"}\n' "$worker" "$manager"
