#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# daemon-env: the environment file dockerd starts with, for what Docker takes only from its
# environment: the Consul ACL token of `kv.acl` (moby 20.10's Consul store builds its client from
# the Consul API's DefaultConfig, which reads CONSUL_HTTP_TOKEN; daemon.json has no key for it).
#
# ACTION=write (create, update): writes ENV_CONTENT to $DOCKER_CONFIG_DIR/docker-overlay.env,
#   mode 0600, atomically. Where systemd runs (/run/systemd/system exists), also the drop-in
#   $SYSTEMD_DROPIN_DIR/docker-overlay-env.conf with `EnvironmentFile=` naming that file (so
#   neither `systemctl show docker` nor the unit holds the token), then `systemctl daemon-reload`.
#   Without systemd, whatever starts dockerd must read the file itself (the lab's dolab-dockerd
#   does). The daemon takes it at its next restart (daemon-config-apply's).
# ACTION=remove (delete): removes the file and the drop-in (daemon-reload), then the owner record
#   when nothing else of ours is left.
# ENV_CONTENT is never printed; it reaches the file through bash's printf builtin (no argument
# of any process holds it).
#
# @var ACTION required: write or remove
# @var ENV_CONTENT optional: write: the whole file, NAME=VALUE lines (secret)
# @var SYSTEMD_DROPIN_DIR optional: the Docker unit's drop-in directory (default /etc/systemd/system/docker.service.d)
# @var SYSTEMD_RUNNING optional: true or false: whether systemd is the init (default: /run/systemd/system exists)
# @var DOCKER_CONFIG_DIR optional: directory of daemon.json (default /etc/docker)
# @var STATE_DIR optional: docker-overlay's state directory on the host (default /var/lib/docker-overlay)
# @var HOST_LABEL optional: this host's name in messages (default: uname -n)
# @var OWNER optional: "<project>/<stack>" of the run; another stack's host is refused, exit 6 (lib/owner.sh)
set -euo pipefail

DOCKER_CONFIG_DIR=${DOCKER_CONFIG_DIR:-/etc/docker}
STATE_DIR=${STATE_DIR:-/var/lib/docker-overlay}
HOST_LABEL=${HOST_LABEL:-$(uname -n)}
SYSTEMD_DROPIN_DIR=${SYSTEMD_DROPIN_DIR:-/etc/systemd/system/docker.service.d}
if [[ -z ${SYSTEMD_RUNNING:-} ]]; then
  if [[ -d /run/systemd/system ]]; then SYSTEMD_RUNNING=true; else SYSTEMD_RUNNING=false; fi
fi

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # @include
# shellcheck source=lib/owner.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/owner.sh" # @include

env_file=$DOCKER_CONFIG_DIR/docker-overlay.env
dropin=$SYSTEMD_DROPIN_DIR/docker-overlay-env.conf

reload() {
  [[ $SYSTEMD_RUNNING == true ]] || return 0
  timeout 60 systemctl daemon-reload || die 1 "systemctl daemon-reload failed after changing $dropin"
}

case ${ACTION-} in
  write)
    [[ -n ${ENV_CONTENT-} ]] || die 5 "ENV_CONTENT is required with ACTION=write"
    lock_host
    claim_host
    install -d -m 0755 -- "$DOCKER_CONFIG_DIR" || die 1 "cannot create $DOCKER_CONFIG_DIR"
    tmp=$(umask 077 && mktemp "$DOCKER_CONFIG_DIR/.docker-overlay.env.XXXXXX") || die 1 "cannot write in $DOCKER_CONFIG_DIR"
    if ! { printf '%s' "$ENV_CONTENT" >"$tmp" && chmod 0600 -- "$tmp" && mv -f -- "$tmp" "$env_file"; }; then
      rm -f -- "$tmp"
      die 1 "cannot write $env_file"
    fi
    if [[ $SYSTEMD_RUNNING == true ]]; then
      want=$'# docker-overlay (kv.acl): what Docker\'s Consul store takes from the environment\n[Service]\nEnvironmentFile='"$env_file"$'\n'
      if [[ ! -f $dropin || $(<"$dropin")$'\n' != "$want" ]]; then
        install -d -m 0755 -- "$SYSTEMD_DROPIN_DIR" || die 1 "cannot create $SYSTEMD_DROPIN_DIR"
        { printf '%s' "$want" >"$dropin.tmp" && chmod 0644 -- "$dropin.tmp" && mv -f -- "$dropin.tmp" "$dropin"; } || die 1 "cannot write $dropin"
        reload
      fi
      printf 'docker-overlay: %s: %s written (mode 0600), read by docker.service through %s\n' "$HOST_LABEL" "$env_file" "$dropin" >&2
    else
      printf 'docker-overlay: %s: %s written (mode 0600); no systemd here: whatever starts dockerd must read it\n' "$HOST_LABEL" "$env_file" >&2
    fi
    ;;
  remove)
    lock_host
    check_owner
    rm -f -- "$env_file"
    if [[ -e $dropin ]]; then
      rm -f -- "$dropin"
      rmdir -- "$SYSTEMD_DROPIN_DIR" 2>/dev/null || true
      reload
    fi
    release_host
    printf 'docker-overlay: %s: %s removed\n' "$HOST_LABEL" "$env_file" >&2
    ;;
  *) die 5 "ACTION must be write or remove, got '${ACTION-}'" ;;
esac
