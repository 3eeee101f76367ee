#!/usr/bin/env bash
# Builds one binary from upstream's own, unmodified sources: the archives in the upstream folder
# (../shared/upstream, checked against toolchain/upstream.sha256) or a module from the Go module
# proxy, plus only the small patch files in toolchain/patches/<component>/ that a build here
# needs (each says why). Nothing of upstream's code is kept in this repository.
#
#   toolchain/build-upstream.sh COMPONENT OUT_DIR
#
# COMPONENT       builds                        from
# command         pulumi-resource-command       pulumi-command v1.2.1
# consul          pulumi-resource-consul        pulumi-consul v3.15.1 over terraform-provider-consul 86cfc3a1c9dc
# docker          pulumi-resource-docker        pulumi-docker 237b789 over kreuzwerker v4.5.0 + upstream's patches/
# language-nodejs pulumi-language-nodejs        pulumi v3.259.0's sdk/nodejs/cmd/pulumi-language-nodejs, on pkg/sdk v3.260.0
# consul-server   consul                        github.com/hashicorp/consul v1.14.11 (Go module proxy)
# dockerd         dockerd                       moby v20.10.24 (GOPATH mode, Debian's go 1.19), with libkv's Consul store
#
# Idempotent: OUT_DIR/.<binary>.inputs holds a hash of everything the binary is built from
# (archive checksums, patches, this script, the pins, the Go version); when it matches, nothing
# is done. Builds run in ${DOCKER_OVERLAY_CACHE:-~/.cache/docker-overlay}/build/<component>
# (replaced on every build); Go's module and build caches stay where `go env` puts them.
#
# Environment:
#   GO                       go command (default: go on PATH, else /usr/local/go/bin/go)
#   DOCKER_OVERLAY_UPSTREAM  the folder of upstream archives (default: the first of
#                            <clone>/../shared/upstream and /work/shared/upstream that exists)
#   UPSTREAM_FORCE=1         rebuild even when up to date
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=toolchain/lib.sh
source "$HERE/lib.sh"

COMPONENT="${1:-}"
[[ $# -eq 2 && -n "$2" ]] || { echo "usage: $0 COMPONENT OUT_DIR" >&2; exit 2; }
say() { printf 'upstream %s: %s\n' "$COMPONENT" "$*"; }
die() { printf 'upstream %s: error: %s\n' "$COMPONENT" "$*" >&2; exit 1; }

tc_load_pins || die "cannot read the pins (toolchain/versions.env, package.json)"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
[[ -x "$GO" ]] || die "no go command (looked for go on PATH and /usr/local/go/bin/go); Go >= 1.26 is needed"
mkdir -p "$2"
OUT="$(cd "$2" && pwd)"

# --- what each component is -----------------------------------------------------------------
# ARCHIVES: upstream archives, unpacked side by side in the work dir, in this order.
# MODDIR: the Go module (relative to the work dir) the binary is built in; PKG: its main package.
# MODULE: the module path `go version -m` must show; VERSION_VAR: set to VERSION with -X.
ARCHIVES=()
LDFLAGS_EXTRA=()
case "$COMPONENT" in
  command)
    BIN=pulumi-resource-command VERSION="$COMMAND_RELEASE"
    ARCHIVES=("$COMMAND_ARCHIVE")
    MODDIR=pulumi-command/provider PKG=./cmd/pulumi-resource-command
    MODULE=github.com/pulumi/pulumi-command/provider
    VERSION_VAR=$MODULE/pkg/version.Version
    ;;
  consul)
    BIN=pulumi-resource-consul VERSION="$CONSUL_RELEASE"
    ARCHIVES=("$CONSUL_ARCHIVE" "$CONSUL_TF_ARCHIVE")
    MODDIR=pulumi-consul/provider PKG=./cmd/pulumi-resource-consul
    MODULE=github.com/pulumi/pulumi-consul/provider/v3
    VERSION_VAR=$MODULE/pkg/version.Version
    ;;
  docker)
    BIN=pulumi-resource-docker VERSION="$DOCKER_PLUGIN_VERSION"
    ARCHIVES=("$DOCKER_ARCHIVE" "$DOCKER_TF_ARCHIVE")
    MODDIR=pulumi-docker/provider PKG=./cmd/pulumi-resource-docker
    MODULE=github.com/pulumi/pulumi-docker/provider/v5
    VERSION_VAR=$MODULE/pkg/version.Version
    ;;
  language-nodejs)
    BIN=pulumi-language-nodejs VERSION="$LANGUAGE_NODEJS_RELEASE"
    ARCHIVES=("$LANGUAGE_NODEJS_ARCHIVE")
    MODDIR=pulumi/sdk/nodejs/cmd/pulumi-language-nodejs PKG=.
    MODULE=github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3
    VERSION_VAR=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version
    ;;
  consul-server)
    BIN=consul VERSION="$CONSUL_SERVER_VERSION"
    MODDIR=consul PKG=.
    MODULE=github.com/hashicorp/consul
    VERSION_VAR=""
    ;;
  dockerd)
    BIN=dockerd VERSION="$DOCKERD_VERSION"
    ARCHIVES=("$DOCKERD_ARCHIVE")
    MODDIR=gopath/src/github.com/docker/docker PKG=./cmd/dockerd
    MODULE=github.com/docker/docker
    VERSION_VAR=github.com/docker/docker/dockerversion.Version
    LDFLAGS_EXTRA=(-X "github.com/docker/docker/dockerversion.GitCommit=$DOCKERD_COMMIT")
    ;;
  *) die "unknown component '$COMPONENT' (command, consul, docker, language-nodejs, consul-server, dockerd)" ;;
esac
PATCHES="$HERE/patches/$COMPONENT"
# Our patches apply (patch -p1) in the archive's top folder, or in the module for consul-server.
PATCH_ROOT="${MODDIR%%/*}"
[[ "$COMPONENT" == dockerd ]] && PATCH_ROOT="$MODDIR"

# --- the upstream archives, verified --------------------------------------------------------
UPSTREAM="$(tc_upstream_dir)" || true
verify_archives() {
  local a want got
  ((${#ARCHIVES[@]})) || return 0
  [[ -n "$UPSTREAM" ]] || die "the folder of upstream archives was not found (looked in \$DOCKER_OVERLAY_UPSTREAM, $TC_REPO/../shared/upstream, /work/shared/upstream); set DOCKER_OVERLAY_UPSTREAM to the folder that holds ${ARCHIVES[*]}"
  for a in "${ARCHIVES[@]}"; do
    [[ -f "$UPSTREAM/$a" ]] || die "$UPSTREAM/$a is missing (see ../shared/upstream/README.md)"
    want="$(awk -v f="$a" '$2 == f {print $1}' "$HERE/upstream.sha256")"
    [[ -n "$want" ]] || die "toolchain/upstream.sha256 has no checksum for $a"
    got="$(sha256sum "$UPSTREAM/$a" | cut -d' ' -f1)"
    [[ "$got" == "$want" ]] || die "$UPSTREAM/$a has sha256 $got, expected $want (toolchain/upstream.sha256): not the archive this build was made for"
  done
}
verify_archives

# --- up to date? ----------------------------------------------------------------------------
go_version="$("$GO" env GOVERSION)"
inputs="$(
  {
    printf 'component=%s bin=%s version=%s go=%s\n' "$COMPONENT" "$BIN" "$VERSION" "$go_version"
    for a in "${ARCHIVES[@]}"; do awk -v f="$a" '$2 == f' "$HERE/upstream.sha256"; done
    [[ "$COMPONENT" == consul-server ]] && printf 'module %s@%s\n' "$MODULE" "$VERSION"
    [[ "$COMPONENT" == dockerd ]] && printf 'go119 %s\n' "$DOCKERD_GO"
    [[ -d "$PATCHES" ]] && (cd "$PATCHES" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
    sha256sum <"${BASH_SOURCE[0]}" # the content only: another clone of the same script is the same input
  } | sha256sum | cut -c1-16
)"
stamp="$OUT/.$BIN.inputs"
if [[ "${UPSTREAM_FORCE:-0}" != 1 && -x "$OUT/$BIN" && -f "$stamp" && "$(cat "$stamp")" == "$inputs" ]]; then
  say "$OUT/$BIN $VERSION is up to date (inputs $inputs)"
  exit 0
fi

# --- work dir -------------------------------------------------------------------------------
WORK="$TC_CACHE/build/$COMPONENT"
mkdir -p "$TC_CACHE/build"
exec 8>"$WORK.lock"
flock 8
rm -rf "$WORK" && mkdir -p "$WORK"
LOG="$WORK/build.log"
start=$SECONDS
fail() {
  {
    printf 'upstream %s: error: %s failed after %ss.\n' "$COMPONENT" "$1" "$((SECONDS - start))"
    grep -v '^[[:space:]]*$' "$LOG" | tail -n 25 | sed 's/^/  | /'
    printf '  full log: %s\n' "$LOG"
  } >&2
  exit 1
}
step() { say "$*"; printf '\n== %s\n' "$*" >>"$LOG"; }

# unpack ARCHIVE DEST: the archive's single top folder becomes WORK/DEST.
unpack() {
  local tmp="$WORK/.unpack"
  rm -rf "$tmp" && mkdir -p "$tmp"
  tar -xzf "$UPSTREAM/$1" -C "$tmp" || fail "unpacking $1"
  local top
  top="$(find "$tmp" -mindepth 1 -maxdepth 1)"
  [[ "$(wc -l <<<"$top")" == 1 ]] || fail "unpacking $1 (expected one top folder)"
  mkdir -p "$(dirname "$WORK/$2")"
  mv "$top" "$WORK/$2"
  rm -rf "$tmp"
}

# apply_patches DIR FILES...: patch -p1 in DIR; a patch that does not apply exactly fails the build.
apply_patches() {
  local dir="$1" p
  shift
  for p in "$@"; do
    [[ -f "$p" ]] || continue
    step "patch $(basename "$p")"
    (cd "$dir" && patch -p1 --forward --fuzz=0 --no-backup-if-mismatch <"$p") >>"$LOG" 2>&1 || fail "applying $p"
  done
}

step "building $BIN $VERSION with $go_version (work dir $WORK)"
case "$COMPONENT" in
  command)
    unpack "$COMMAND_ARCHIVE" pulumi-command
    ;;
  consul)
    unpack "$CONSUL_ARCHIVE" pulumi-consul
    # Where our go.mod patch's replace points (../../terraform-provider-consul from provider/).
    unpack "$CONSUL_TF_ARCHIVE" terraform-provider-consul
    ;;
  docker)
    unpack "$DOCKER_ARCHIVE" pulumi-docker
    # pulumi-docker's go.mod replaces the Terraform provider with ../upstream, its git submodule
    # at kreuzwerker v4.5.0, patched by upstream's own patches/ (as its Makefile does).
    unpack "$DOCKER_TF_ARCHIVE" pulumi-docker/upstream
    apply_patches "$WORK/pulumi-docker/upstream" "$WORK"/pulumi-docker/patches/*.patch
    ;;
  language-nodejs)
    unpack "$LANGUAGE_NODEJS_ARCHIVE" pulumi
    ;;
  consul-server)
    step "go mod download $MODULE@v$VERSION"
    dir="$(cd "$WORK" && "$GO" mod download -json "$MODULE@v$VERSION" 2>>"$LOG" | sed -nE 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p')"
    [[ -n "$dir" && -d "$dir" ]] || fail "go mod download $MODULE@v$VERSION"
    cp -r "$dir" "$WORK/consul" && chmod -R u+w "$WORK/consul"
    ;;
  dockerd)
    unpack "$DOCKERD_ARCHIVE" "$MODDIR"
    ;;
esac
apply_patches "$WORK/$PATCH_ROOT" "$PATCHES"/*.patch

# The bridged providers embed schema-embed.json: schema.json (committed upstream) with the
# version set, made by upstream's own cmd/<bin>/generate.go, as its Makefile does.
if [[ "$COMPONENT" == consul || "$COMPONENT" == docker ]]; then
  step "schema-embed.json (upstream's generate.go, VERSION=$VERSION)"
  (cd "$WORK/$MODDIR/cmd/$BIN" && VERSION="$VERSION" GOFLAGS=-mod=mod "$GO" run ./generate.go) >>"$LOG" 2>&1 ||
    fail "generating schema-embed.json"
fi

mkdir -p "$WORK/out"
ldflags=(-s -w)
[[ -n "$VERSION_VAR" ]] && ldflags+=(-X "$VERSION_VAR=$VERSION")
ldflags+=("${LDFLAGS_EXTRA[@]}")
t=$SECONDS
if [[ "$COMPONENT" == dockerd ]]; then
  go119="$(tc_go119)" || fail "finding Debian's go 1.19 ($DOCKERD_GO)"
  step "go build $PKG (GOPATH mode, $("$go119" version | cut -d' ' -f3), tags $DOCKERD_TAGS)"
  (cd "$WORK/$MODDIR" && GOPATH="$WORK/gopath" GO111MODULE=off CGO_ENABLED=0 GOFLAGS="" \
    nice -n 10 "$go119" build -trimpath -tags "$DOCKERD_TAGS" -ldflags "${ldflags[*]}" -o "$WORK/out/$BIN" "$PKG") >>"$LOG" 2>&1 ||
    fail "go build of $BIN"
else
  step "go build $PKG"
  # No -trimpath: with it Go leaves -ldflags out of the build info, and `go version -m` is how
  # anyone can check which version a binary was stamped with.
  # consul-server: static, as HashiCorp builds its releases (it runs alone in the lab's image).
  cgo=""
  [[ "$COMPONENT" == consul-server ]] && cgo=0
  (cd "$WORK/$MODDIR" && CGO_ENABLED="${cgo:-$("$GO" env CGO_ENABLED)}" GOFLAGS=-mod=mod nice -n 10 "$GO" build -ldflags "${ldflags[*]}" -o "$WORK/out/$BIN" "$PKG") >>"$LOG" 2>&1 ||
    fail "go build of $BIN"
fi
say "      go build took $((SECONDS - t)) s"

# The binary must say it is upstream's module (go version -m) and carry its version.
"$GO" version -m "$WORK/out/$BIN" >"$WORK/version-m.txt" 2>>"$LOG" || fail "go version -m $BIN"
grep -qE "^[[:space:]]+(path|mod)[[:space:]]+$MODULE(/|[[:space:]]|$)" "$WORK/version-m.txt" ||
  { cat "$WORK/version-m.txt" >>"$LOG"; fail "go version -m check (module $MODULE not named)"; }
if [[ -n "$VERSION_VAR" && "$COMPONENT" != dockerd ]]; then # go1.19 (dockerd) does not record -ldflags
  grep -qF -- "-X $VERSION_VAR=$VERSION" "$WORK/version-m.txt" ||
    { cat "$WORK/version-m.txt" >>"$LOG"; fail "go version -m check (-X $VERSION_VAR=$VERSION not in its build flags)"; }
fi
# Those that print their version are asked too (the plugins answer over gRPC only).
got="$VERSION"
case "$COMPONENT" in
  consul) got="$("$WORK/out/$BIN" -version 2>&1 || true)" ;;
  consul-server) got="$("$WORK/out/$BIN" version 2>&1 | sed -nE '1s/^Consul v([^ ]+).*/\1/p')" ;;
  dockerd) got="$("$WORK/out/$BIN" --version 2>&1 | sed -nE 's/^Docker version ([^,]+),.*/\1/p')" ;;
esac
[[ "$got" == "$VERSION" ]] || { echo "$BIN reports version '$got'" >>"$LOG"; fail "version check (expected $VERSION)"; }

mv -f "$WORK/out/$BIN" "$OUT/.$BIN.tmp.$$" && mv -f "$OUT/.$BIN.tmp.$$" "$OUT/$BIN"
cp "$WORK/version-m.txt" "$OUT/.$BIN.version-m"
printf '%s\n' "$inputs" >"$stamp"
say "built $OUT/$BIN $VERSION in $((SECONDS - start)) s"
