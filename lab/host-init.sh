#!/bin/bash
# host-init.sh DIR HOST STATE: PID 1 of a lab host, run by lab.sh inside fresh mount, UTS and
# PID namespaces (and the host's network namespace). Gives the host its hostname and its own
# /etc/docker, /etc/hostname, /etc/hosts, /etc/resolv.conf, /run (= /var/run), /var/lib/docker,
# /var/lib/docker-overlay, /var/log and /root, then
# becomes tini, which holds the namespaces open and reaps orphans (e.g. a dockerd detached by
# setsid whose starter exited).
set -euo pipefail
d=$1 h=$2 state=$3
hostname "$h"
# do not keep the namespace files of other hosts (and so their namespaces) alive in here
umount -l "$state/ns" 2>/dev/null || true
umount -l /run/netns 2>/dev/null || true
mount --bind "$d/etc-docker" /etc/docker
mount --bind "$d/hostname" /etc/hostname
mount --bind "$d/hosts" /etc/hosts
mount --bind "$d/resolv.conf" /etc/resolv.conf
mount --bind "$d/run" /run
mount --bind "$d/lib-docker" /var/lib/docker
# docker-overlay keeps each host's original daemon.json here: it must be the host's own
mount --bind "$d/lib-docker-overlay" /var/lib/docker-overlay
mount --bind "$d/log" /var/log
# root's home is the host's own, as on a server: an SSH session must not run this machine's
# ~/.bashrc (found on 2026-12-02: its `pyenv init` waited 60 s on a lock a killed shell had left,
# and every command on every lab host with it)
mount --bind "$d/root" /root
# like a Debian server with docker.io, `docker` is the engine's own 20.10 CLI: hide any newer
# CLI this machine has in /usr/local/bin (it would shadow /usr/bin/docker on PATH)
if [ -e /usr/local/bin/docker ] && [ -x /usr/bin/docker ]; then
  mount --bind /usr/bin/docker /usr/local/bin/docker
fi
touch /run/dolab-ready
exec /usr/bin/tini -s -- sleep infinity
