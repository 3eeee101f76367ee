#!/usr/bin/env bash
# Builds pulumi-resource-docker, the provider plugin behind @pulumi/docker 5.2.0, from Go
# modules only: our wrapper toolchain/go/docker (pulumi-terraform-bridge over kreuzwerker's
# Terraform provider). Upstream's own module (github.com/pulumi/pulumi-docker/provider/v5) is
# refused by the Go module proxy; docs/docker-provider.md explains the whole approach.
#
#   toolchain/build-docker-provider.sh OUT_DIR      -> OUT_DIR/pulumi-resource-docker
#
# Steps: build pulumi-tfgen-docker, let it generate schema.json, build the provider with that
# schema embedded (`go build -overlay`, the generated file never enters the clone).
# Idempotent: when OUT_DIR/pulumi-resource-docker was built from the same inputs (wrapper
# sources, go.mod/go.sum, release, Go version) it is kept and the script returns in a second.
# Go's module and build caches stay where `go env` puts them (outside the clone).
#
# Environment:
#   GO                    go command (default: go on PATH, else /usr/local/go/bin/go)
#   DOCKER_OVERLAY_CACHE  cache root for the build directory (default ~/.cache/docker-overlay)
#   DOCKER_PROVIDER_FORCE=1  rebuild even when up to date
set -euo pipefail

# The @pulumi/docker release the wrapper's name mapping was made and tested for.
RELEASE=5.2.0
NAME=pulumi-resource-docker

say() { printf 'docker-provider: %s\n' "$*"; }
die() { printf 'docker-provider: error: %s\n' "$*" >&2; exit 1; }

[[ $# -eq 1 && -n "$1" ]] || die "usage: $0 OUT_DIR"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
WRAPPER="$HERE/go/docker"
mkdir -p "$1"
OUT="$(cd "$1" && pwd)"
CACHE="${DOCKER_OVERLAY_CACHE:-$HOME/.cache/docker-overlay}"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
[[ -x "$GO" ]] || die "no go command (looked for go on PATH and /usr/local/go/bin/go); Go >= 1.25 is needed"
[[ -f "$WRAPPER/go.mod" ]] || die "missing $WRAPPER/go.mod"

# The npm package must be the release this mapping was made for.
pkg_version="$(grep -E '^[[:space:]]*"@pulumi/docker"[[:space:]]*:' "$REPO/package.json" | head -n1 |
  sed -E 's/.*:[[:space:]]*"([^"]*)".*/\1/')"
[[ "$pkg_version" == "$RELEASE" ]] ||
  die "package.json pins @pulumi/docker '${pkg_version:-nothing}', but toolchain/go/docker maps the SDK of $RELEASE; update the mapping (and RELEASE here) first"

# pin MODULE: the version (or replacement) go.mod pins MODULE to, for messages.
pin() {
  local m="$1" r
  r="$(sed -nE "s#^[[:space:]]*${m//./\\.} => ([^ ]+) ([^ ]+)\$#\\1@\\2#p" "$WRAPPER/go.mod" | head -n1)"
  [[ -n "$r" ]] || r="$m@$(sed -nE "s#^[[:space:]]*(require[[:space:]]+)?${m//./\\.} ([^ ]+).*#\\2#p" "$WRAPPER/go.mod" | head -n1)"
  printf '%s\n' "$r"
}
PIN_TF="$(pin github.com/terraform-providers/terraform-provider-docker)"
PIN_BRIDGE="$(pin github.com/pulumi/pulumi-terraform-bridge/v3)"
PIN_SDK="$(pin github.com/hashicorp/terraform-plugin-sdk/v2)"

# Inputs of the build; the same inputs give the same binary.
go_version="$("$GO" env GOVERSION)"
inputs="$(
  {
    printf 'release=%s go=%s goflags=%s\n' "$RELEASE" "$go_version" "${GOFLAGS:-}"
    (cd "$WRAPPER" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 |
      LC_ALL=C sort -z | xargs -0 sha256sum)
    sha256sum "${BASH_SOURCE[0]}"
  } | sha256sum | cut -c1-16
)"
stamp="$OUT/.$NAME.inputs"
if [[ "${DOCKER_PROVIDER_FORCE:-0}" != 1 && -x "$OUT/$NAME" && -f "$stamp" && "$(cat "$stamp")" == "$inputs" ]]; then
  say "$OUT/$NAME $RELEASE is up to date (inputs $inputs)"
  exit 0
fi

# One build at a time per cache; the build directory holds only the latest build.
BUILD="$CACHE/build/docker-provider"
mkdir -p "$BUILD"
exec 8>"$BUILD.lock"
flock 8
rm -rf "$BUILD" && mkdir -p "$BUILD/schema"
LOG="$BUILD/build.log"
start=$SECONDS
say "building $NAME $RELEASE with $go_version"
say "  terraform provider: $PIN_TF"
say "  bridge:             $PIN_BRIDGE"
say "  plugin SDK:         $PIN_SDK"
say "  build dir: $BUILD (log: $LOG)"

# fail STEP: names the step, the pins and Go's own error, then exits.
fail() {
  {
    printf 'docker-provider: error: %s failed after %ss.\n' "$1" "$((SECONDS - start))"
    printf '  wrapper module toolchain/go/docker with %s, %s, %s\n' "$PIN_TF" "$PIN_BRIDGE" "$PIN_SDK"
    grep -v '^[[:space:]]*$' "$LOG" | tail -n 25 | sed 's/^/  | /'
    printf '  full log: %s\n' "$LOG"
  } >&2
  exit 1
}

ldflags="-s -w -X docker-overlay/toolchain/docker/version.Version=$RELEASE"
gobuild() { (cd "$WRAPPER" && nice -n 10 "$GO" build -mod=readonly -trimpath -ldflags "$ldflags" "$@"); }

t=$SECONDS
say "[1/3] go build pulumi-tfgen-docker (cold: ~15-25 min on 2 cores, mostly module downloads and compiling the Terraform provider) ..."
gobuild -o "$BUILD/pulumi-tfgen-docker" ./cmd/pulumi-tfgen-docker >>"$LOG" 2>&1 || fail "go build of pulumi-tfgen-docker"
say "      done in $((SECONDS - t)) s"

t=$SECONDS
say "[2/3] pulumi-tfgen-docker schema ..."
(cd "$BUILD" && "$BUILD/pulumi-tfgen-docker" schema --out "$BUILD/schema" --skip-docs --skip-examples --logtostderr) \
  >>"$LOG" 2>&1 || fail "schema generation (pulumi-tfgen-docker schema)"
[[ -s "$BUILD/schema/schema.json" ]] || { echo "no schema.json written" >>"$LOG"; fail "schema generation"; }
# tfgen leaves the package version out of schema.json; the embedded copy carries it.
gobuild -o "$BUILD/schema-embed" ./cmd/schema-embed >>"$LOG" 2>&1 || fail "go build of schema-embed"
"$BUILD/schema-embed" "$RELEASE" "$BUILD/schema/schema.json" "$BUILD/schema-embed.json" >>"$LOG" 2>&1 ||
  fail "schema-embed (setting version $RELEASE)"
say "      done in $((SECONDS - t)) s ($(wc -c <"$BUILD/schema-embed.json") bytes)"

t=$SECONDS
say "[3/3] go build $NAME (schema embedded via -overlay) ..."
printf '{"Replace":{"%s":"%s"}}\n' "$WRAPPER/cmd/$NAME/schema-embed.json" "$BUILD/schema-embed.json" >"$BUILD/overlay.json"
gobuild -overlay "$BUILD/overlay.json" -o "$BUILD/$NAME" "./cmd/$NAME" >>"$LOG" 2>&1 || fail "go build of $NAME"
got="$("$BUILD/$NAME" -version 2>&1 || true)"
[[ "$got" == "$RELEASE" ]] || { echo "$NAME -version printed '$got'" >>"$LOG"; fail "version check (expected $RELEASE)"; }
say "      done in $((SECONDS - t)) s"

mv -f "$BUILD/$NAME" "$OUT/$NAME.tmp.$$" && mv -f "$OUT/$NAME.tmp.$$" "$OUT/$NAME"
rm -f "$BUILD/pulumi-tfgen-docker"
printf '%s\n' "$inputs" >"$stamp"
say "built $OUT/$NAME (docker $RELEASE) in $((SECONDS - start)) s"
