#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# daemon-config-backup: keep the original /etc/docker/daemon.json, from before docker-overlay
# touched it, and print it so that the program can merge its cluster options into it.
#
# ACTION=keep (create): the first run copies daemon.json byte for byte, mode kept (cp -p), to
#   $STATE_DIR/daemon.json.orig, or writes the marker $STATE_DIR/daemon.json.orig-absent when
#   there is no file, and records OWNER as this host's stack (refused, exit 6, when another
#   stack's is there: lib/owner.sh). Later runs keep that first backup (the file may hold our own content by
#   then). Prints one JSON line describing the ORIGINAL:
#   {"present":true,"contentBase64":"..."}  or  {"present":false,"contentBase64":""}
# ACTION=forget (delete, after daemon-config-restore): removes the backup, the rollback copy
#   and the markers, then the owner record when nothing else of ours is left. Prints {"forgotten":true}.
#
# @var ACTION optional: keep (default) or forget
# @var DOCKER_CONFIG_DIR optional: directory of daemon.json (default /etc/docker)
# @var STATE_DIR optional: docker-overlay's state directory on the host (default /var/lib/docker-overlay)
# @var HOST_LABEL optional: this host's name in messages (default: uname -n)
# @var OWNER optional: "<project>/<stack>" of the run (lib/owner.sh)
set -euo pipefail

ACTION=${ACTION:-keep}
DOCKER_CONFIG_DIR=${DOCKER_CONFIG_DIR:-/etc/docker}
STATE_DIR=${STATE_DIR:-/var/lib/docker-overlay}
HOST_LABEL=${HOST_LABEL:-$(uname -n)}

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # @include
# shellcheck source=lib/owner.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/owner.sh" # @include

config=$DOCKER_CONFIG_DIR/daemon.json
orig=$STATE_DIR/daemon.json.orig
orig_absent=$STATE_DIR/daemon.json.orig-absent

case $ACTION in
  keep)
    lock_host
    claim_host
    install -d -m 0700 -- "$STATE_DIR" || die 1 "cannot create $STATE_DIR; check that the SSH user is root or can write there"
    if [[ ! -e $orig && ! -e $orig_absent ]]; then
      if [[ -e $config ]]; then
        # Copy to a temporary name first: a half-written backup must never look like the original.
        tmp=$(mktemp "$STATE_DIR/.daemon.json.orig.XXXXXX")
        cp -p -- "$config" "$tmp" || { rm -f -- "$tmp"; die 1 "cannot copy $config to $STATE_DIR; check permissions and free space"; }
        mv -f -- "$tmp" "$orig"
      else
        : >"$orig_absent"
      fi
    fi
    if [[ -e $orig ]]; then
      printf '{"present":true,"contentBase64":"%s"}\n' "$(base64 -w0 <"$orig")"
    else
      printf '{"present":false,"contentBase64":""}\n'
    fi
    ;;
  forget)
    lock_host
    check_owner
    if same_bytes "$STATE_DIR/daemon.json.ours" "$config"; then
      die 1 "$config is still the file docker-overlay wrote; the original in $STATE_DIR is kept until it is back (daemon-config-restore puts it back; pulumi destroy --run-program runs that)"
    fi
    rm -f -- "$STATE_DIR/daemon.json.ours" "$STATE_DIR/apply-epoch" "$STATE_DIR/daemon.json.edited"
    rm -f -- "$orig" "$orig_absent" "$STATE_DIR/daemon.json.prev" "$STATE_DIR/daemon.json.prev-absent"
    # The owner record and the directory go with the last of our state; the directory may be a
    # mount point: leaving it is harmless.
    release_host
    printf '{"forgotten":true}\n'
    ;;
  *)
    die 2 "ACTION must be keep or forget, got '$ACTION'"
    ;;
esac
