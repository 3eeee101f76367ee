#!/usr/bin/env bash
# Builds pulumi-resource-consul, the provider plugin behind @pulumi/consul 3.15.1 (the resource
# types docker-overlay uses: KeyPrefix, Keys, Node, Service), from our own Go module
# toolchain/go/consul (on github.com/pulumi/pulumi/sdk/v3 and github.com/hashicorp/consul/api
# only). Upstream's modules (github.com/pulumi/pulumi-consul/provider/v3 and
# github.com/hashicorp/terraform-provider-consul) are refused by the Go module proxy at every
# version; docs/consul-provider.md explains.
#
#   toolchain/build-consul-provider.sh OUT_DIR      -> OUT_DIR/pulumi-resource-consul
#
# Idempotent: when OUT_DIR/pulumi-resource-consul was built from the same inputs (module
# sources and those of toolchain/go/propkit, go.mod/go.sum, release, Go version, this script)
# it is kept and the script returns at once. Go's module and build caches stay where `go env`
# puts them (outside the clone).
#
# Environment:
#   GO                     go command (default: go on PATH, else /usr/local/go/bin/go)
#   CONSUL_PROVIDER_FORCE=1   rebuild even when up to date
set -euo pipefail

# The @pulumi/consul release whose resource types the module implements.
RELEASE=3.15.1
NAME=pulumi-resource-consul
MODULE=docker-overlay/toolchain/consul

say() { printf 'consul-provider: %s\n' "$*"; }
die() { printf 'consul-provider: error: %s\n' "$*" >&2; exit 1; }

[[ $# -eq 1 && -n "$1" ]] || die "usage: $0 OUT_DIR"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
SRC="$HERE/go/consul"
mkdir -p "$1"
OUT="$(cd "$1" && pwd)"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
[[ -x "$GO" ]] || die "no go command (looked for go on PATH and /usr/local/go/bin/go); Go >= 1.26 is needed"
[[ -f "$SRC/go.mod" ]] || die "missing $SRC/go.mod"

pkg_version="$(grep -E '^[[:space:]]*"@pulumi/consul"[[:space:]]*:' "$REPO/package.json" | head -n1 |
  sed -E 's/.*:[[:space:]]*"([^"]*)".*/\1/')"
[[ "$pkg_version" == "$RELEASE" ]] ||
  die "package.json pins @pulumi/consul '${pkg_version:-nothing}', but toolchain/go/consul implements $RELEASE; check the new SDK's types and properties, then update RELEASE here"

# require MODULE: the version go.mod requires, for messages.
require() { sed -nE "s#^[[:space:]]*(require[[:space:]]+)?${1//./\\.} ([^ ]+).*#\\2#p" "$SRC/go.mod" | head -n1; }
PINS="github.com/pulumi/pulumi/sdk/v3@$(require github.com/pulumi/pulumi/sdk/v3), github.com/hashicorp/consul/api@$(require github.com/hashicorp/consul/api)"

go_version="$("$GO" env GOVERSION)"
inputs="$(
  {
    printf 'release=%s go=%s goflags=%s\n' "$RELEASE" "$go_version" "${GOFLAGS:-}"
    # the module and the helpers it shares with our other plugin (replace => ../propkit)
    for dir in "$SRC" "$HERE/go/propkit"; do
      (cd "$dir" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 |
        LC_ALL=C sort -z | xargs -0 sha256sum)
    done
    # the script by content only: its path differs between callers (install.sh gives an absolute one)
    sha256sum <"${BASH_SOURCE[0]}"
  } | sha256sum | cut -c1-16
)"
stamp="$OUT/.$NAME.inputs"
if [[ "${CONSUL_PROVIDER_FORCE:-0}" != 1 && -x "$OUT/$NAME" && -f "$stamp" && "$(cat "$stamp")" == "$inputs" ]]; then
  say "$OUT/$NAME $RELEASE is up to date (inputs $inputs)"
  exit 0
fi

start=$SECONDS
tmp="$(mktemp -d "${TMPDIR:-/tmp}/consul-provider.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
LOG="$tmp/build.log"
say "building $NAME $RELEASE with $go_version"
say "  module $MODULE (toolchain/go/consul) with $PINS"
say "[1/2] go build ./cmd/$NAME (cold: a few minutes on 2 cores, mostly downloading and compiling sdk/v3, gRPC and consul/api) ..."
if ! (cd "$SRC" && nice -n 10 "$GO" build -mod=readonly -trimpath \
  -ldflags "-s -w -X $MODULE/version.Version=$RELEASE" -o "$tmp/$NAME" "./cmd/$NAME") >"$LOG" 2>&1; then
  {
    printf 'consul-provider: error: go build of %s %s failed after %ss.\n' "$NAME" "$RELEASE" "$((SECONDS - start))"
    printf '  module %s (toolchain/go/consul) with %s\n' "$MODULE" "$PINS"
    sed 's/^/  go: /' "$LOG" | tail -n 30
  } >&2
  exit 1
fi
say "      done in $((SECONDS - start)) s"

say "[2/2] checking the binary ..."
got="$("$tmp/$NAME" -version 2>&1 || true)"
[[ "$got" == "$RELEASE" ]] || die "$NAME -version printed '$got', expected $RELEASE"

mv -f "$tmp/$NAME" "$OUT/$NAME.tmp.$$" && mv -f "$OUT/$NAME.tmp.$$" "$OUT/$NAME"
printf '%s\n' "$inputs" >"$stamp"
say "built $OUT/$NAME (consul $RELEASE) in $((SECONDS - start)) s"
