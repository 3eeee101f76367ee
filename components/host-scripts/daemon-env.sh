#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# daemon-env: what dockerd needs beyond daemon.json, for the stack's Consul:
# - the environment file it starts with, for what Docker takes only from its environment: the
#   Consul ACL token of `kv.acl` (moby 20.10's Consul store builds its client from the Consul
#   API's DefaultConfig, which reads CONSUL_HTTP_TOKEN; daemon.json has no key for it);
# - the TLS files of `kv.tls` (CA, certificate, key), which daemon.json's cluster-store-opts
#   name (kv.cacertfile, kv.certfile, kv.keyfile).
#
# ACTION=write (create, update): writes ENV_CONTENT to $DOCKER_CONFIG_DIR/docker-overlay.env,
#   mode 0600, atomically. Where systemd runs (/run/systemd/system exists), also the drop-in
#   $SYSTEMD_DROPIN_DIR/docker-overlay-env.conf with `EnvironmentFile=` naming that file (so
#   neither `systemctl show docker` nor the unit holds the token), then `systemctl daemon-reload`.
#   Without systemd, whatever starts dockerd must read the file itself (the lab's dolab-dockerd
#   does). With TLS_CA, TLS_CERT and TLS_KEY: writes them as ca.pem, cert.pem and key.pem into
#   $DOCKER_CONFIG_DIR/docker-overlay-tls (directory 0700, files 0600), replaced as a whole. What
#   is not given (no ENV_CONTENT, no TLS_*) is removed if an earlier write left it. The daemon
#   takes all of it at its next restart (daemon-config-apply's).
# ACTION=remove (delete): removes the file, the drop-in (daemon-reload) and the TLS directory,
#   then the owner record when nothing else of ours is left.
# ENV_CONTENT and TLS_KEY are never printed; they reach their files through bash's printf builtin
# (no argument of any process holds them).
#
# @var ACTION required: write or remove
# @var ENV_CONTENT optional: write: the whole environment file, NAME=VALUE lines (secret)
# @var TLS_CA optional: write: the CA certificate, PEM (kv.tls.ca)
# @var TLS_CERT optional: write: the certificate, PEM (kv.tls.cert)
# @var TLS_KEY optional: write: its private key, PEM (secret: consulTlsKey)
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
tls_dir=$DOCKER_CONFIG_DIR/docker-overlay-tls

reload() {
  [[ $SYSTEMD_RUNNING == true ]] || return 0
  timeout 60 systemctl daemon-reload || die 1 "systemctl daemon-reload failed after changing $dropin"
}

remove_env() {
  rm -f -- "$env_file"
  if [[ -e $dropin ]]; then
    rm -f -- "$dropin"
    rmdir -- "$SYSTEMD_DROPIN_DIR" 2>/dev/null || true
    reload
  fi
}

write_env() {
  install -d -m 0755 -- "$DOCKER_CONFIG_DIR" || die 1 "cannot create $DOCKER_CONFIG_DIR"
  local tmp
  tmp=$(umask 077 && mktemp "$DOCKER_CONFIG_DIR/.docker-overlay.env.XXXXXX") || die 1 "cannot write in $DOCKER_CONFIG_DIR"
  if ! { printf '%s' "$ENV_CONTENT" >"$tmp" && chmod 0600 -- "$tmp" && mv -f -- "$tmp" "$env_file"; }; then
    rm -f -- "$tmp"
    die 1 "cannot write $env_file"
  fi
  if [[ $SYSTEMD_RUNNING == true ]]; then
    local want=$'# docker-overlay (kv.acl): what Docker\'s Consul store takes from the environment\n[Service]\nEnvironmentFile='"$env_file"$'\n'
    if [[ ! -f $dropin || $(<"$dropin")$'\n' != "$want" ]]; then
      install -d -m 0755 -- "$SYSTEMD_DROPIN_DIR" || die 1 "cannot create $SYSTEMD_DROPIN_DIR"
      { printf '%s' "$want" >"$dropin.tmp" && chmod 0644 -- "$dropin.tmp" && mv -f -- "$dropin.tmp" "$dropin"; } || die 1 "cannot write $dropin"
      reload
    fi
    printf 'docker-overlay: %s: %s written (mode 0600), read by docker.service through %s\n' "$HOST_LABEL" "$env_file" "$dropin" >&2
  else
    printf 'docker-overlay: %s: %s written (mode 0600); no systemd here: whatever starts dockerd must read it\n' "$HOST_LABEL" "$env_file" >&2
  fi
}

# pem TEXT: TEXT, ending in one newline.
pem() {
  printf '%s' "$1"
  [[ $1 == *$'\n' ]] || printf '\n'
}

# The three files in a fresh directory beside the old one, then swapped in: dockerd never reads a
# mix of an old certificate and a new key.
write_tls() {
  install -d -m 0755 -- "$DOCKER_CONFIG_DIR" || die 1 "cannot create $DOCKER_CONFIG_DIR"
  local tmp
  tmp=$(umask 077 && mktemp -d "$DOCKER_CONFIG_DIR/.docker-overlay-tls.XXXXXX") || die 1 "cannot write in $DOCKER_CONFIG_DIR"
  if ! (umask 077 && pem "$TLS_CA" >"$tmp/ca.pem" && pem "$TLS_CERT" >"$tmp/cert.pem" && pem "$TLS_KEY" >"$tmp/key.pem"); then
    rm -rf -- "$tmp"
    die 1 "cannot write the TLS files in $DOCKER_CONFIG_DIR"
  fi
  rm -rf -- "$tls_dir.old"
  if [[ -e $tls_dir ]]; then mv -f -- "$tls_dir" "$tls_dir.old" || die 1 "cannot replace $tls_dir"; fi
  mv -f -- "$tmp" "$tls_dir" || die 1 "cannot write $tls_dir"
  rm -rf -- "$tls_dir.old"
  printf 'docker-overlay: %s: %s/{ca,cert,key}.pem written (directory 0700, files 0600)\n' "$HOST_LABEL" "$tls_dir" >&2
}

case ${ACTION-} in
  write)
    tls_given=0
    for v in TLS_CA TLS_CERT TLS_KEY; do [[ -z ${!v-} ]] || tls_given=$((tls_given + 1)); done
    ((tls_given == 0 || tls_given == 3)) || die 5 "TLS_CA, TLS_CERT and TLS_KEY go together: give all three or none"
    [[ -n ${ENV_CONTENT-} ]] || ((tls_given)) || die 5 "ACTION=write needs ENV_CONTENT or the TLS files (TLS_CA, TLS_CERT, TLS_KEY)"
    lock_host
    claim_host
    if [[ -n ${ENV_CONTENT-} ]]; then write_env; else remove_env; fi
    if ((tls_given)); then write_tls; else rm -rf -- "$tls_dir"; fi
    ;;
  remove)
    lock_host
    check_owner
    remove_env
    rm -rf -- "$tls_dir" "$tls_dir.old"
    release_host
    printf 'docker-overlay: %s: %s and %s removed\n' "$HOST_LABEL" "$env_file" "$tls_dir" >&2
    ;;
  *) die 5 "ACTION must be write or remove, got '${ACTION-}'" ;;
esac
