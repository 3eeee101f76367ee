#!/usr/bin/env bash
# kv-wait: wait until the KV store Docker will use as its cluster store answers as ready.
# Uses bash's /dev/tcp only (no curl, no nc).
#   consul:    GET /v1/status/leader returns a non-empty quoted leader ("10.0.0.1:8300")
#   etcd:      GET /v2/keys returns HTTP 200 (the v2 API, the only one Docker's store speaks)
# and, with EXPECT_MEMBERS (a cluster), until that many members have joined:
#   consul:    GET /v1/agent/members lists that many alive ("Status":1): servers and clients; and
#              with EXPECT_VOTERS, autopilot says the cluster is healthy with that many voting
#              servers (a server back from a failure votes again only after autopilot's
#              stabilization time: until then one more loss would stop the cluster)
#   etcd:      GET /v2/members lists that many started members (with client URLs)
# Exits 0 when ready; 1 with the last thing seen when TIMEOUT_SECONDS pass first. Prints
# one line on stdout when ready.
#
# @var BACKEND required: consul or etcd
# @var KV_ADDRESS required: address of the KV store
# @var KV_PORT required: its port (consul 8500, etcd 2379)
# @var TIMEOUT_SECONDS optional: how long to wait in all (default 60)
# @var POLL_SECONDS optional: seconds between attempts (default 1)
# @var EXPECT_MEMBERS optional: a cluster: wait until this many agents (Consul) or members (etcd) have joined
# @var EXPECT_VOTERS optional: a Consul cluster: wait until autopilot is healthy with this many voting servers
# @var STORE_URL optional: the store as the daemons will use it (their cluster-store URL), named in messages
# @var HOST_LABEL optional: this host's name in messages (default: uname -n)
# @var CONSUL_TOKEN optional: consul with ACLs (kv.acl): the token sent as X-Consul-Token (secret: it goes only into the requests, on stdin, never into an argument)
set -euo pipefail

TIMEOUT_SECONDS=${TIMEOUT_SECONDS:-60}
POLL_SECONDS=${POLL_SECONDS:-1}
HOST_LABEL=${HOST_LABEL:-$(uname -n)}

die() { local code=$1; shift; printf 'docker-overlay: %s: %s\n' "$HOST_LABEL" "$*" >&2; exit "$code"; }

for name in BACKEND KV_ADDRESS KV_PORT; do
  [[ -n ${!name-} ]] || die 5 "$name is required and was not given (see the @var lines at the top of this script)"
done
[[ $KV_PORT =~ ^[0-9]+$ ]] || die 5 "KV_PORT must be a port number, got '$KV_PORT'"
[[ ${EXPECT_VOTERS:-} =~ ^[0-9]*$ ]] || die 5 "EXPECT_VOTERS must be a whole number, got '$EXPECT_VOTERS'"
[[ ${EXPECT_MEMBERS:-} =~ ^[0-9]*$ ]] || die 5 "EXPECT_MEMBERS must be a whole number, got '$EXPECT_MEMBERS'"
[[ $TIMEOUT_SECONDS =~ ^[0-9]+$ ]] || die 5 "TIMEOUT_SECONDS must be a whole number of seconds, got '$TIMEOUT_SECONDS'"
case $BACKEND in consul | etcd) ;; *) die 5 "BACKEND must be consul or etcd, got '$BACKEND'" ;; esac
where="$BACKEND at $KV_ADDRESS:$KV_PORT on $HOST_LABEL"
if [[ -n ${STORE_URL:-} ]]; then where+=" (the daemons' cluster store $STORE_URL)"; fi

# ask REQUEST: send REQUEST, print the whole reply; at most 5 seconds, or TIMEOUT_SECONDS if
# shorter (a silent peer or a black-holed address must not hang us). The bash -c text is
# fixed; address and port are arguments, the request (which may hold the token) goes on stdin.
attempt_seconds=$((TIMEOUT_SECONDS < 5 ? (TIMEOUT_SECONDS < 1 ? 1 : TIMEOUT_SECONDS) : 5))
ask() {
  # shellcheck disable=SC2016 # expanded by the inner bash, on purpose
  printf '%s' "$1" | timeout "$attempt_seconds" bash --norc --noprofile -c 'exec 3<>"/dev/tcp/$1/$2" && cat >&3 && cat <&3' \
    docker-overlay-kv-wait "$KV_ADDRESS" "$KV_PORT" 2>/dev/null
}
auth=''
if [[ -n ${CONSUL_TOKEN:-} ]]; then auth="X-Consul-Token: $CONSUL_TOKEN"$'\r\n'; fi

# http_get PATH: sets status (e.g. 200, "" when no HTTP reply) and body.
http_get() {
  local reply
  reply=$(ask "GET $1 HTTP/1.0"$'\r\n'"Host: $KV_ADDRESS:$KV_PORT"$'\r\n'"${auth}Accept: */*"$'\r\n\r\n') || true
  status=''
  body=''
  if [[ $reply =~ ^HTTP/[0-9.]+\ ([0-9]{3}) ]]; then
    status=${BASH_REMATCH[1]}
    body=${reply#*$'\r\n\r\n'}
  fi
}

# joined TEXT COUNT WHAT: 0 when the body holds TEXT at least COUNT times; else says how many.
joined() {
  local rest=$body n=0
  while [[ $rest == *"$1"* ]]; do
    n=$((n + 1))
    rest=${rest#*"$1"}
  done
  if ((n >= $2)); then return 0; fi
  problem="$n of $2 $3"
  return 1
}

# ready: 0 when the store is ready; otherwise sets problem to what was seen.
ready() {
  case $BACKEND in
    consul)
      http_get /v1/status/leader
      if [[ -z $status ]]; then problem='nothing answered on that port'; return 1; fi
      if [[ $status != 200 ]]; then problem="GET /v1/status/leader answered HTTP $status"; return 1; fi
      if ! [[ $body =~ \"[^\"]+\" ]]; then
        problem='Consul answers but has no leader yet'
        return 1
      fi
      [[ -n ${EXPECT_MEMBERS:-} ]] || return 0
      http_get /v1/agent/members
      if [[ $status != 200 ]]; then problem="GET /v1/agent/members answered HTTP ${status:-nothing}"; return 1; fi
      joined '"Status":1' "$EXPECT_MEMBERS" 'Consul agents (servers and clients) have joined' || return 1
      [[ -n ${EXPECT_VOTERS:-} ]] || return 0
      http_get /v1/operator/autopilot/health
      if [[ $status != 200 ]]; then problem="GET /v1/operator/autopilot/health answered HTTP ${status:-nothing}"; return 1; fi
      if [[ $body != '{"Healthy":true,'* ]]; then problem="Consul's autopilot does not call the cluster healthy yet (a server back from a failure votes again after its stabilization time)"; return 1; fi
      joined '"Voter":true' "$EXPECT_VOTERS" 'Consul servers vote'
      ;;
    etcd)
      http_get /v2/keys
      if [[ -z $status ]]; then problem='nothing answered on that port'; return 1; fi
      if [[ $status == 200 ]]; then
        [[ -n ${EXPECT_MEMBERS:-} ]] || return 0
        http_get /v2/members
        if [[ $status != 200 ]]; then problem="GET /v2/members answered HTTP ${status:-nothing}"; return 1; fi
        joined '"clientURLs":["http' "$EXPECT_MEMBERS" 'etcd members have joined'
        return
      fi
      if [[ $status == 404 ]]; then
        problem="etcd answers but GET /v2/keys is 404: its v2 API is off, and Docker's cluster store speaks only the v2 API. Start etcd with --enable-v2 (etcd 3.4/3.5; 3.6 has no v2 store)"
      else
        problem="GET /v2/keys answered HTTP $status"
      fi
      return 1
      ;;
  esac
}

problem='not tried yet'
deadline=$((SECONDS + TIMEOUT_SECONDS))
while :; do
  if ready; then
    printf 'docker-overlay: %s: %s is ready\n' "$HOST_LABEL" "$where"
    exit 0
  fi
  if ((SECONDS >= deadline)); then
    die 1 "$where is not ready after ${TIMEOUT_SECONDS}s: $problem. Check that the store runs and that $KV_PORT/tcp is open between the hosts."
  fi
  sleep "$POLL_SECONDS"
done
