#!/usr/bin/env bash
# lib/common.sh: helpers every host script shares. A script includes it with its
# `source ... # @include` line: run from its file, bash reads this file; rendered for a host,
# renderScript (components/hostScripts.ts) puts this text in place of that line, so the host gets one
# self-contained script. Uses HOST_LABEL, which the including script sets first.

die() { local code=$1; shift; printf 'docker-overlay: %s: %s\n' "$HOST_LABEL" "$*" >&2; exit "$code"; }

# as_array NAME: a value inserted by renderScript is already an array; one from the environment
# is a string, split on whitespace (never evaluated).
as_array() {
  local decl
  decl=$(declare -p "$1" 2>/dev/null || true)
  decl=${decl#declare -}
  if [[ ${decl%% *} == *a* ]]; then return 0; fi
  local -a words=()
  if [[ -n ${!1-} ]]; then read -r -a words <<<"${!1}"; fi
  unset "$1"
  local -n ref=$1
  # shellcheck disable=SC2034 # ref is a nameref to the caller's variable
  ref=(${words[@]+"${words[@]}"})
}

# unit_paths: SYSTEMD_UNIT_PATHS as an array: the one the script was given, or where Docker's unit,
# its drop-ins and its defaults file live on Debian, Ubuntu, RHEL and the like. Sets
# unit_paths_given=true when it was given (then `systemctl cat` is not asked as well).
# shellcheck disable=SC2034 # unit_paths_given and SYSTEMD_UNIT_PATHS are for the including script
unit_paths() {
  unit_paths_given=false
  if declare -p SYSTEMD_UNIT_PATHS >/dev/null 2>&1; then
    unit_paths_given=true
    as_array SYSTEMD_UNIT_PATHS
  else
    SYSTEMD_UNIT_PATHS=(
      /etc/systemd/system/docker.service /etc/systemd/system/docker.service.d
      /run/systemd/system/docker.service /run/systemd/system/docker.service.d
      /lib/systemd/system/docker.service /lib/systemd/system/docker.service.d
      /usr/lib/systemd/system/docker.service /usr/lib/systemd/system/docker.service.d
      /etc/default/docker /etc/sysconfig/docker
    )
  fi
}

# unit_cluster_flags: prints "FILE<TAB>LINE<TAB>OPTION" (OPTION cluster-store, cluster-advertise or
# cluster-store-opt) for every active line of the Docker unit files and drop-ins in
# SYSTEMD_UNIT_PATHS (call unit_paths first) that passes one of those flags to dockerd. When they
# show none and no paths were given, `systemctl cat docker.service` is read too (a unit outside the
# usual places; it prints "# /path" before each file). dockerd refuses to start when an option is
# both a flag and in daemon.json.
unit_cluster_flags() {
  local path f files out found=''
  for path in ${SYSTEMD_UNIT_PATHS[@]+"${SYSTEMD_UNIT_PATHS[@]}"}; do
    files=()
    if [[ -d $path ]]; then
      for f in "$path"/*.conf; do [[ -f $f ]] && files+=("$f"); done
    elif [[ -f $path ]]; then
      files=("$path")
    fi
    for f in ${files[@]+"${files[@]}"}; do
      [[ -r $f ]] || continue
      # shellcheck disable=SC2094 # scan_unit_lines only prints the name, it never writes the file
      out=$(scan_unit_lines "$f" <"$f")
      [[ -z $out ]] || found+=$out$'\n'
    done
  done
  if [[ -z $found && $unit_paths_given == false ]] && command -v systemctl >/dev/null 2>&1; then
    out=$(systemctl cat docker.service 2>/dev/null | scan_unit_lines 'systemctl cat docker.service') || out=''
    [[ -z $out ]] || found+=$out$'\n'
  fi
  printf '%s' "$found"
}

# scan_unit_lines NAME: unit_cluster_flags's lines for the unit text on stdin, named NAME until a
# "# /path" header (systemctl cat) names another file.
scan_unit_lines() {
  local name=$1 line n=0 rest
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    if [[ $line =~ ^'# /'(.*)$ ]]; then name="/${BASH_REMATCH[1]}"; n=0; continue; fi
    if [[ $line =~ ^[[:space:]]*[\#\;] ]]; then continue; fi
    rest=$line
    while [[ $rest =~ --cluster-(store-opt|store|advertise)(.*)$ ]]; do
      printf '%s\t%s\tcluster-%s\n' "$name" "$n" "${BASH_REMATCH[1]}"
      rest=${BASH_REMATCH[2]}
    done
  done
}

# one_line TEXT: newlines and runs of blanks become single spaces, at most 400 characters.
one_line() {
  local s=${1//$'\r'/ }
  s=${s//$'\n'/ }
  s=${s//$'\t'/ }
  while [[ $s == *'  '* ]]; do s=${s//'  '/ }; done
  s=${s# }
  s=${s% }
  if ((${#s} > 400)); then s="${s:0:400}..."; fi
  printf '%s' "$s"
}

# json_str TEXT: TEXT as a JSON string literal.
json_str() {
  local s=$1 out='' c i
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  if [[ $s == *[$'\x01'-$'\x1f']* ]]; then
    for ((i = 0; i < ${#s}; i++)); do
      c=${s:i:1}
      if [[ $c == [$'\x01'-$'\x1f'] ]]; then printf -v c '\\u%04x' "'$c"; fi
      out+=$c
    done
    s=$out
  fi
  printf '"%s"' "$s"
}

# tcp_accepts ADDRESS:PORT: true when ADDRESS:PORT (an IPv6 address in brackets) accepts a TCP
# connection within 3 s. Bash's /dev/tcp only.
tcp_accepts() {
  local host=${1%:*} port=${1##*:}
  host=${host#[}
  host=${host%]}
  # shellcheck disable=SC2016 # $1 and $2 are the inner bash's arguments, not ours
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$host" "$port" 2>/dev/null
}

# resolve_address NAME: NAME itself when it is an IP address; else the first address this host
# resolves it to (getent: /etc/hosts and DNS as the host sees them, IPv4 first). Fails when none.
resolve_address() {
  local name=$1 ip
  if [[ $name =~ ^[0-9]+(\.[0-9]+){3}$ || $name == *:* ]]; then printf '%s' "$name"; return 0; fi
  ip=$(getent ahostsv4 "$name" 2>/dev/null | awk 'NR == 1 {print $1}') || ip=''
  if [[ -z $ip ]]; then ip=$(getent ahosts "$name" 2>/dev/null | awk 'NR == 1 {print $1}') || ip=''; fi
  [[ -n $ip ]] || return 1
  printf '%s' "$ip"
}

# same_bytes A B: both files exist and hold the same bytes.
same_bytes() {
  [[ -f $1 && -f $2 ]] || return 1
  local a b
  a=$(sha256sum <"$1") && b=$(sha256sum <"$2") && [[ $a == "$b" ]]
}
