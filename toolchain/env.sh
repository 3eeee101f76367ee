# shellcheck shell=bash source-path=SCRIPTDIR
# Source this in every shell and script that runs project commands:
#   source toolchain/env.sh
# Puts Node.js 22 and the toolchain's bin directory first on PATH and points Pulumi at them
# (ambient plugins, no update check, no plugin downloads, PULUMI_HOME under the cache).
# It builds nothing: when something is missing it says so and returns 1 (the environment is
# still set as far as it goes, so `source toolchain/env.sh || true` gives a partial toolchain).

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  echo "toolchain/env.sh is to be sourced: source toolchain/env.sh" >&2
  exit 2
fi

_tc_env() {
  local here
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  source "$here/lib.sh" || return 1
  tc_load_pins || return 1
  tc_paths

  local missing=()
  [[ -x "$TC_NODE_BIN/node" ]] || missing+=("node $NODE_VERSION ($TC_NODE_BIN/node)")
  local b
  for b in "${TC_REQUIRED_BINS[@]}"; do
    [[ -x "$TC_BIN/$b" ]] || missing+=("$b ($TC_BIN/$b)")
  done
  for b in "${TC_LAB_BINS[@]}"; do
    [[ -x "$TC_LAB_BIN/$b" ]] || missing+=("$b, for the lab ($TC_LAB_BIN/$b)")
  done

  case ":$PATH:" in *":$TC_BIN:"*) ;; *) PATH="$TC_BIN:$PATH" ;; esac
  case ":$PATH:" in *":$TC_NODE_BIN:"*) ;; *) PATH="$TC_NODE_BIN:$PATH" ;; esac
  export PATH
  export DOCKER_OVERLAY_TOOLCHAIN_BIN="$TC_BIN"
  # The lab's dockerd (with Consul's cluster store) and Consul server: never on PATH.
  export DOCKER_OVERLAY_LAB_BIN="$TC_LAB_BIN"
  export PULUMI_HOME="$TC_CACHE/pulumi-home"
  export PULUMI_SKIP_UPDATE_CHECK=true
  export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
  # Use the binaries on PATH whatever their version ("ambient plugins").
  unset PULUMI_IGNORE_AMBIENT_PLUGINS

  if ((${#missing[@]})); then
    {
      echo "toolchain/env.sh: the toolchain is not complete; missing:"
      printf '  %s\n' "${missing[@]}"
      echo "Run \`npm run toolchain\` (bash toolchain/install.sh) first; if it reports components"
      echo "the Go module proxy does not serve, see docs/toolchain.md."
    } >&2
    return 1
  fi
}

_tc_env
_tc_rc=$?
unset -f _tc_env
# Leave no helper variables or functions behind in the caller's shell.
unset TC_DIR TC_REPO TC_CACHE TC_REQUIRED_BINS TC_LAB_BINS TC_PKG_PULUMI TC_PKG_COMMAND \
  TC_PKG_DOCKER TC_PKG_CONSUL TC_NODE_DIR TC_NODE_BIN TC_KEY TC_HOME TC_BIN TC_LAB_BIN \
  NODE_VERSION PULUMI_VERSION LANGUAGE_NODEJS_RELEASE LANGUAGE_NODEJS_ARCHIVE COMMAND_RELEASE \
  COMMAND_ARCHIVE DOCKER_SDK_RELEASE DOCKER_PLUGIN_VERSION DOCKER_ARCHIVE DOCKER_TF_ARCHIVE \
  CONSUL_RELEASE CONSUL_ARCHIVE CONSUL_TF_ARCHIVE CONSUL_SERVER_VERSION DOCKERD_VERSION \
  DOCKERD_COMMIT DOCKERD_ARCHIVE DOCKERD_GO DOCKERD_TAGS ACTIONLINT_VERSION
unset -f tc_npm_pin tc_load_pins tc_key tc_inputs_hash tc_paths tc_upstream_dir tc_go119
eval "unset _tc_rc; return $_tc_rc"
