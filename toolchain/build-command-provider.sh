#!/usr/bin/env bash
# Builds pulumi-resource-command, the provider plugin behind @pulumi/command 1.2.1, from our
# own Go module toolchain/go/command (on github.com/pulumi/pulumi/sdk/v3 and
# golang.org/x/crypto only). Upstream's module (github.com/pulumi/pulumi-command/provider) and
# pulumi-go-provider are refused by the Go module proxy; docs/command-provider.md explains.
#
#   toolchain/build-command-provider.sh OUT_DIR      -> OUT_DIR/pulumi-resource-command
#
# Idempotent: when OUT_DIR/pulumi-resource-command was built from the same inputs (module
# sources without tests and those of toolchain/go/propkit, go.mod/go.sum, release, Go version,
# this script) it is kept and the script returns at once. Go's module and build caches stay
# where `go env` puts them (outside the clone).
#
# Environment:
#   GO                     go command (default: go on PATH, else /usr/local/go/bin/go)
#   COMMAND_PROVIDER_FORCE=1  rebuild even when up to date
set -euo pipefail

# The @pulumi/command release whose resource types the module implements.
RELEASE=1.2.1
NAME=pulumi-resource-command
MODULE=docker-overlay/toolchain/command

say() { printf 'command-provider: %s\n' "$*"; }
die() { printf 'command-provider: error: %s\n' "$*" >&2; exit 1; }

[[ $# -eq 1 && -n "$1" ]] || die "usage: $0 OUT_DIR"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
SRC="$HERE/go/command"
mkdir -p "$1"
OUT="$(cd "$1" && pwd)"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
[[ -x "$GO" ]] || die "no go command (looked for go on PATH and /usr/local/go/bin/go); Go >= 1.26 is needed"
[[ -f "$SRC/go.mod" ]] || die "missing $SRC/go.mod"

pkg_version="$(grep -E '^[[:space:]]*"@pulumi/command"[[:space:]]*:' "$REPO/package.json" | head -n1 |
  sed -E 's/.*:[[:space:]]*"([^"]*)".*/\1/')"
[[ "$pkg_version" == "$RELEASE" ]] ||
  die "package.json pins @pulumi/command '${pkg_version:-nothing}', but toolchain/go/command implements $RELEASE; check the new SDK's types and properties, then update RELEASE here"

# require MODULE: the version go.mod requires, for messages.
require() { sed -nE "s#^[[:space:]]*(require[[:space:]]+)?${1//./\\.} ([^ ]+).*#\\2#p" "$SRC/go.mod" | head -n1; }
PINS="github.com/pulumi/pulumi/sdk/v3@$(require github.com/pulumi/pulumi/sdk/v3), golang.org/x/crypto@$(require golang.org/x/crypto)"

go_version="$("$GO" env GOVERSION)"
inputs="$(
  {
    printf 'release=%s go=%s goflags=%s\n' "$RELEASE" "$go_version" "${GOFLAGS:-}"
    # the module and the helpers it shares with our other plugin (replace => ../propkit)
    for dir in "$SRC" "$HERE/go/propkit"; do
      (cd "$dir" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) ! -name '*_test.go' -print0 |
        LC_ALL=C sort -z | xargs -0 sha256sum)
    done
    sha256sum <"${BASH_SOURCE[0]}"
  } | sha256sum | cut -c1-16
)"
stamp="$OUT/.$NAME.inputs"
if [[ "${COMMAND_PROVIDER_FORCE:-0}" != 1 && -x "$OUT/$NAME" && -f "$stamp" && "$(cat "$stamp")" == "$inputs" ]]; then
  say "$OUT/$NAME $RELEASE is up to date (inputs $inputs)"
  exit 0
fi

start=$SECONDS
tmp="$(mktemp -d "${TMPDIR:-/tmp}/command-provider.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
LOG="$tmp/build.log"
say "building $NAME $RELEASE with $go_version"
say "  module $MODULE (toolchain/go/command) with $PINS"
say "[1/2] go build ./cmd/$NAME (cold: a few minutes on 2 cores, mostly downloading and compiling sdk/v3 and gRPC) ..."
if ! (cd "$SRC" && nice -n 10 "$GO" build -mod=readonly -trimpath \
  -ldflags "-s -w -X $MODULE/version.Version=$RELEASE" -o "$tmp/$NAME" "./cmd/$NAME") >"$LOG" 2>&1; then
  {
    printf 'command-provider: error: go build of %s %s failed after %ss.\n' "$NAME" "$RELEASE" "$((SECONDS - start))"
    printf '  module %s (toolchain/go/command) with %s\n' "$MODULE" "$PINS"
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
say "built $OUT/$NAME (command $RELEASE) in $((SECONDS - start)) s"
