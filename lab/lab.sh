#!/bin/bash
# lab.sh: a lab of N real Docker hosts on this one machine.
#
#   lab/lab.sh up [N] [--recreate]   create hosts lab1..labN (default N=3)
#   lab/lab.sh down                  remove everything the lab created
#   lab/lab.sh status                show the lab's hosts; exit 0 only if all are healthy
#   lab/lab.sh exec HOST CMD...      run CMD inside lab host HOST's namespaces (no ssh needed)
#   lab/lab.sh sshd HOST stop|start  stop or start HOST's sshd (fault injection: host unreachable)
#   lab/lab.sh load-image zookeeper [HOST...]
#                                    make dolab/zookeeper:3.8 (on demand: it is large) on HOSTs
#
# A lab host labK is a set of namespaces held open by bind files:
#   - network namespace dolab-labK, eth0 = 10.210.0.(10+K)/24 on the bridge dolab0 (10.210.0.1)
#   - UTS namespace with hostname labK
#   - mount namespace in which /etc/docker, /etc/hostname, /etc/hosts, /run (= /var/run),
#     /var/lib/docker, /var/lib/docker-overlay and /var/log are the host's own directories under
#     /var/lib/docker-overlay-lab/hosts/labK/
# with an sshd (key-only root login) on eth0:22 and a dockerd 20.10.24 built from moby's source by
# the toolchain (Debian's removes Consul's cluster store; containerd, runc and docker-proxy are
# Debian's), both started inside those namespaces. docs/lab.md explains the design, lab.json and
# the troubleshooting.
set -euo pipefail

STATE=/var/lib/docker-overlay-lab
BRIDGE=dolab0
BRIDGE_ADDR=10.210.0.1
SUBNET=10.210.0.0/24
PREFIX=24
NS_PREFIX=dolab-           # network namespaces dolab-lab1.., host-side veths dolab-lab1..
IPT_TAG=docker-overlay-lab # comment on every iptables rule we add
RESTART_CMD=/usr/local/sbin/dolab-dockerd
CACHE=${DOCKER_OVERLAY_CACHE:-${HOME:-/root}/.cache/docker-overlay}/lab-images
IMAGE_BUSYBOX=dolab/busybox:1
IMAGE_ETCD=dolab/etcd:3.4
IMAGE_CONSUL=dolab/consul:1.14
IMAGE_ZOOKEEPER=dolab/zookeeper:3.8 # loaded only on demand (lab.sh load-image zookeeper)
# Debian's JDK 17: jlink makes the small Java runtime of the ZooKeeper image.
JDK=/usr/lib/jvm/java-17-openjdk-amd64
IMAGE_RECIPE=3 # bump when the root filesystems below change
# The binaries the toolchain builds for the lab (toolchain/build-upstream.sh): copied here at
# `up`, so that hosts and dolab-dockerd use one fixed path whatever the checkout.
LAB_BIN=$STATE/bin
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

T0=${EPOCHREALTIME/./}
log() {
  local us=$((${EPOCHREALTIME/./} - T0))
  printf '[lab %3d.%ds] %s\n' "$((us / 1000000))" "$((us / 100000 % 10))" "$*"
}
warn() { printf '[lab] WARNING: %s\n' "$*" >&2; }
die() { printf '[lab] ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
  cat <<EOF
usage: $0 up [N] [--recreate] | down | status | exec HOST CMD... | sshd HOST stop|start | load-image zookeeper [HOST...]
  up [N]       start a lab of N Docker hosts (default 3); if a lab of N hosts is already up and
               healthy, say so and change nothing; otherwise (other N, broken) recreate it.
  --recreate   always tear down and build a fresh lab.
  down         stop and remove every lab process, mount, namespace, link, iptables rule and the
               state directory $STATE.
  status       list the hosts; exit 0 if every host answers on ssh and docker, 1 otherwise.
  exec HOST CMD...
               run CMD inside HOST's namespaces, as root (works while its sshd is down).
  sshd HOST stop|start
               stop HOST's sshd with every session it serves (the host becomes unreachable,
               as with a network outage or a crashed sshd), or start it again.
  load-image zookeeper [HOST...]
               make $IMAGE_ZOOKEEPER (Debian's ZooKeeper 3.8 on a Java runtime made with
               jlink) and load it on HOSTs (default: every host); not part of up, it is large.
EOF
}

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "lab.sh needs root: it creates network namespaces, a bridge, iptables rules and runs" >&2
    echo "one dockerd and one sshd per lab host. Run it as root, e.g.: sudo $0 ${*:-up}" >&2
    exit 1
  fi
}

# ---------------------------------------------------------------------------------------------
# prerequisites
# ---------------------------------------------------------------------------------------------
ensure_packages() {
  local missing=() cmd pkg
  # command -> Debian package
  local -A want=(
    [dockerd]=docker.io [sshd]=openssh-server [ssh]=openssh-client [ssh-keygen]=openssh-client
    [ip]=iproute2 [iptables]=iptables [etcd]=etcd-server [modprobe]=kmod [jq]=jq
    [nsenter]=util-linux [unshare]=util-linux [tini]=tini [setsid]=util-linux [ps]=procps [pgrep]=procps
    [ping]=iputils-ping [dot]=graphviz
  )
  for cmd in "${!want[@]}"; do
    if [ "$cmd" = sshd ]; then
      [ -x /usr/sbin/sshd ] || missing+=("${want[$cmd]}")
    elif ! command -v "$cmd" >/dev/null 2>&1; then
      missing+=("${want[$cmd]}")
    fi
  done
  # The busybox of the image must be the static one (it runs alone in a container).
  dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' ||
    missing+=(busybox-static)
  if [ "${#missing[@]}" -gt 0 ]; then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    log "installing missing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
      apt-get update -q >/dev/null
      apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
        die "apt-get install ${missing[*]} failed"
    fi
  fi
  for pkg in dockerd /usr/sbin/sshd etcd jq; do
    command -v "$pkg" >/dev/null || die "$pkg is still missing after installing packages"
  done
}

# Kernel features. On this kind of machine they are built in (no /lib/modules); elsewhere
# modprobe loads them.
builtin_module() { # $1 = module; true if compiled into the running kernel
  local -A opt=([bridge]=BRIDGE [veth]=VETH [vxlan]=VXLAN [overlay]=OVERLAY_FS [br_netfilter]=BRIDGE_NETFILTER)
  grep -qs "/$1.ko" "/lib/modules/$(uname -r)/modules.builtin" && return 0
  [ -r /proc/config.gz ] || return 1
  # (no grep -q on a pipe: with pipefail, zcat's SIGPIPE would turn a match into a failure)
  [ "$(zcat /proc/config.gz 2>/dev/null | grep -cx "CONFIG_${opt[$1]}=y")" -gt 0 ]
}

ensure_kernel() {
  local m ok
  for m in bridge veth vxlan overlay br_netfilter; do
    ok=
    case $m in
      br_netfilter) [ -d /proc/sys/net/bridge ] && ok=1 ;;
      *) [ -d "/sys/module/$m" ] && ok=1 ;;
    esac
    if [ -z "$ok" ] && builtin_module "$m"; then ok=1; fi
    if [ -z "$ok" ] && modprobe "$m" >/dev/null 2>&1; then ok=1; fi
    if [ -z "$ok" ] && [ "$m" = overlay ] && grep -qw overlay /proc/filesystems; then ok=1; fi
    [ -n "$ok" ] && continue
    case $m in
      bridge | veth) die "kernel module '$m' is missing and could not be loaded (modprobe $m); the lab cannot be built without it" ;;
      vxlan) warn "kernel module 'vxlan' is missing (modprobe vxlan failed): hosts will start, but every overlay network will fail with 'error creating vxlan interface: operation not supported' (libnetwork#1166). Install the kernel's modules package (linux-image-*/linux-modules-*) and retry." ;;
      overlay) warn "kernel module 'overlay' is missing: dockerd will fall back to the slow vfs storage driver." ;;
      br_netfilter) warn "br_netfilter is not available: harmless for the lab (bridged traffic then simply bypasses iptables)." ;;
    esac
  done
}

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
host_dir() { echo "$STATE/hosts/$1"; }
host_addr() { echo "10.210.0.$((10 + $1))"; }
netns_of() { echo "/run/netns/${NS_PREFIX}$1"; }

# run a command inside lab host $1's namespaces (net, mount, uts) -- never `ip netns exec`,
# which remounts /sys and makes dockerd die with "Devices cgroup isn't mounted".
in_host() {
  local h=$1 holder
  shift
  holder=$(cat "$STATE/ns/$h.holder" 2>/dev/null) || die "lab host $h has no namespace holder; run: $0 up --recreate"
  # all five namespaces of the holder (PID 1 of the host): net, mount, uts, pid (+ its /proc).
  # 8>&- 9>&-: daemons started here must not inherit (and so hold) the lab's locks
  (cd / && nsenter --target "$holder" --net --mount --uts --pid -- "$@" 8>&- 9>&-)
}

lab_hosts_present() {
  # every host directory or netns that looks like ours
  {
    [ -d "$STATE/hosts" ] && find "$STATE/hosts" -mindepth 1 -maxdepth 1 -printf '%f\n'
    ip netns list 2>/dev/null | awk '{print $1}' | sed -n "s/^${NS_PREFIX}//p"
  } | sort -u
}

# ---------------------------------------------------------------------------------------------
# images: root filesystems assembled from Debian packages, cached outside the clone
# ---------------------------------------------------------------------------------------------
busybox_applets="sh ash ping ping6 nc wget httpd sleep cat echo ip ifconfig nslookup route ls ps
  kill top env hostname sed grep awk vi mkdir rm cp mv ln touch tail head true false netstat
  traceroute arping udhcpc telnet id uname date printf test [ [[ du df mount umount free uptime
  watch timeout tr cut sort uniq wc xargs find tee dd chmod chown seq expr basename dirname"

build_rootfs_busybox() { # $1 = target dir
  local d=$1 a
  mkdir -p "$d"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,proc,sys,dev,var/www}
  chmod 1777 "$d/tmp"
  cp /bin/busybox "$d/bin/busybox"
  for a in $busybox_applets; do ln -sf busybox "$d/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$d/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$d/etc/group"
  echo 'hello from dolab/busybox' >"$d/var/www/index.html"
}

# The lab's stand-in for the hashicorp/consul image: the toolchain's consul (static) and an
# entrypoint that reads the image's documented variables, CONSUL_BIND_INTERFACE and
# CONSUL_CLIENT_INTERFACE (the interface whose IPv4 address becomes -bind / -client), as the
# seed's `docker run -e CONSUL_BIND_INTERFACE=ens33 consul` relies on.
build_rootfs_consul() { # $1 = target dir
  local d=$1
  build_rootfs_busybox "$d"
  mkdir -p "$d/usr/local/bin" "$d/consul/data" "$d/consul/config"
  cp "$LAB_SRC/consul" "$d/usr/local/bin/consul"
  cat >"$d/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# dolab/consul's entrypoint (written by lab/lab.sh): `consul ARGS`, with -bind/-client from the
# IPv4 address of $CONSUL_BIND_INTERFACE / $CONSUL_CLIENT_INTERFACE when they are set.
set -e
addr_of() {
  a=$(ip -o -4 addr show dev "$1" 2>/dev/null | awk '{split($4, p, "/"); print p[1]; exit}')
  [ -n "$a" ] || { echo "docker-entrypoint: interface $1 has no IPv4 address" >&2; exit 1; }
  echo "$a"
}
[ "$1" = consul ] && shift
if [ "$1" = agent ]; then
  [ -z "$CONSUL_BIND_INTERFACE" ] || set -- "$@" -bind="$(addr_of "$CONSUL_BIND_INTERFACE")"
  [ -z "$CONSUL_CLIENT_INTERFACE" ] || set -- "$@" -client="$(addr_of "$CONSUL_CLIENT_INTERFACE")"
fi
exec consul "$@"
EOF
  chmod 0755 "$d/usr/local/bin/docker-entrypoint.sh"
  [ -x "$d/usr/local/bin/consul" ] && [ -x "$d/usr/local/bin/docker-entrypoint.sh" ]
}

# The lab's stand-in for the zookeeper image: Debian's ZooKeeper 3.8 (its jars at their Debian
# paths, which zookeeper.jar's Class-Path names) on a Java runtime made with jlink, and an
# entrypoint that writes /conf/zoo.cfg from the variables the official image documents:
# ZOO_4LW_COMMANDS_WHITELIST, ZOO_ADMINSERVER_ENABLED (default true, as there), ZOO_CFG_EXTRA.
ZK_MODULES=java.base,java.management,java.naming,java.security.jgss,java.security.sasl,java.logging,java.xml,jdk.unsupported,jdk.management,java.desktop,java.sql
zookeeper_jars() {
  printf '%s\n' /usr/share/java/zookeeper.jar /usr/share/java/slf4j-simple.jar
  unzip -p /usr/share/java/zookeeper.jar META-INF/MANIFEST.MF | tr -d '\r' |
    awk '/^Class-Path:/ {on = 1; sub(/^Class-Path: /, "")} on && /^[A-Z][A-Za-z-]*:/ && !/^Class-Path:/ {on = 0} on {sub(/^ /, ""); printf "%s", $0} END {print ""}' |
    tr ' ' '\n' | grep -v '^$'
}
build_rootfs_zookeeper() { # $1 = target dir
  local d=$1 jar lib
  build_rootfs_busybox "$d"
  "$JDK/bin/jlink" --add-modules "$ZK_MODULES" --strip-debug --no-header-files --no-man-pages --compress=2 --output "$d/opt/java" >/dev/null
  for lib in $(ldd "$d/opt/java/bin/java" "$d/opt/java/lib/"*.so 2>/dev/null | awk '/=>/ {print $3} /^\t\// {print $1}' | sort -u); do
    [ -f "$lib" ] || continue
    mkdir -p "$d$(dirname "$lib")"
    cp -L "$lib" "$d$lib"
  done
  mkdir -p "$d/usr/share/java" "$d/usr/local/bin" "$d/conf" "$d/data" "$d/datalog"
  for jar in $(zookeeper_jars); do cp -L "$jar" "$d$jar"; done
  cat >"$d/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# dolab/zookeeper's entrypoint (written by lab/lab.sh): /conf/zoo.cfg from ZOO_* variables, then
# ZooKeeper in the foreground.
set -e
{
  echo "dataDir=/data"
  echo "dataLogDir=/datalog"
  echo "tickTime=2000"
  echo "initLimit=5"
  echo "syncLimit=2"
  echo "clientPort=2181"
  echo "admin.enableServer=${ZOO_ADMINSERVER_ENABLED:-true}"
  [ -z "$ZOO_4LW_COMMANDS_WHITELIST" ] || echo "4lw.commands.whitelist=$ZOO_4LW_COMMANDS_WHITELIST"
  for line in $ZOO_CFG_EXTRA; do echo "$line"; done
} >/conf/zoo.cfg
exec /opt/java/bin/java -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
  org.apache.zookeeper.server.quorum.QuorumPeerMain /conf/zoo.cfg
EOF
  chmod 0755 "$d/usr/local/bin/docker-entrypoint.sh"
  # what the image needs to start (the steps above run without errexit under `|| die`)
  [ -x "$d/opt/java/bin/java" ] && [ -s "$d/usr/share/java/zookeeper.jar" ] && [ -x "$d/usr/local/bin/docker-entrypoint.sh" ]
}

build_rootfs_etcd() { # $1 = target dir
  local d=$1 lib
  build_rootfs_busybox "$d"
  mkdir -p "$d/usr/local/bin" "$d/var/lib/etcd"
  cp "$(command -v etcd)" "$d/usr/local/bin/etcd"
  command -v etcdctl >/dev/null 2>&1 && cp "$(command -v etcdctl)" "$d/usr/local/bin/etcdctl"
  # the shared libraries it needs (Debian's etcd is a Go binary linked against libc only)
  for lib in $(ldd "$(command -v etcd)" | awk '/=>/ {print $3} /^\t\// {print $1}'); do
    [ -f "$lib" ] || continue
    mkdir -p "$d$(dirname "$lib")"
    cp -L "$lib" "$d$lib"
  done
}

image_tarball() { # $1 = busybox|etcd|consul|zookeeper ; prints the cached tarball path, building it if needed
  local kind=$1 key tarball tmp
  key=$( {
    echo "recipe $IMAGE_RECIPE $kind $busybox_applets"
    sha256sum /bin/busybox
    [ "$kind" = etcd ] && sha256sum "$(command -v etcd)"
    [ "$kind" = consul ] && sha256sum "$LAB_SRC/consul"
    [ "$kind" = zookeeper ] && { echo "$ZK_MODULES"; "$JDK/bin/java" -version 2>&1; zookeeper_jars | xargs sha256sum; }
    true
  } | sha256sum | cut -c1-16)
  tarball="$CACHE/$kind-$key.tar"
  if [ ! -s "$tarball" ]; then
    mkdir -p "$CACHE"
    tmp=$(mktemp -d)
    "build_rootfs_$kind" "$tmp/rootfs" || die "building the root filesystem of $kind failed"
    tar -C "$tmp/rootfs" --numeric-owner --owner=0 --group=0 -cf "$tmp/rootfs.tar" .
    mv "$tmp/rootfs.tar" "$tarball"
    rm -rf "$tmp"
    log "built root filesystem $tarball" >&2
  fi
  echo "$tarball"
}

load_images() { # $1 = host name
  local h=$1 sock
  sock="$(host_dir "$h")/run/docker.sock"
  docker -H "unix://$sock" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["sh"]' "$TAR_BUSYBOX" "$IMAGE_BUSYBOX" >/dev/null
  docker -H "unix://$sock" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'WORKDIR /var/lib/etcd' \
    --change 'CMD ["etcd", "--enable-v2"]' "$TAR_ETCD" "$IMAGE_ETCD" >/dev/null
  docker -H "unix://$sock" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
    --change 'CMD ["agent", "-dev", "-client", "0.0.0.0"]' "$TAR_CONSUL" "$IMAGE_CONSUL" >/dev/null
}

# The toolchain's lab binaries (dockerd with Consul's store, consul): DOCKER_OVERLAY_LAB_BIN
# (toolchain/env.sh sets it), else where toolchain/lib.sh says this checkout's toolchain is.
find_lab_bins() {
  LAB_SRC=${DOCKER_OVERLAY_LAB_BIN:-}
  if [ -z "$LAB_SRC" ]; then
    # shellcheck source=toolchain/lib.sh
    LAB_SRC=$(source "$HERE/../toolchain/lib.sh" && tc_load_pins >/dev/null 2>&1 && tc_paths && printf '%s' "$TC_LAB_BIN") || LAB_SRC=''
  fi
  local b where=${LAB_SRC:-<toolchain>/lab-bin}
  for b in dockerd consul; do
    [ -x "$LAB_SRC/$b" ] || die "the lab runs a dockerd and a Consul that the toolchain builds, and $where/$b is missing: run \`npm run toolchain\` first (npm run lab and npm test do it)"
  done
}

# lab_engine: what identifies the lab's dockerd and images (a lab made with others is recreated).
lab_engine() {
  { sha256sum "$LAB_SRC/dockerd" "$LAB_SRC/consul" | cut -c1-64; echo "recipe $IMAGE_RECIPE"; } | sha256sum | cut -c1-16
}

# ---------------------------------------------------------------------------------------------
# up
# ---------------------------------------------------------------------------------------------
check_subnet() {
  local clash
  clash=$(ip -4 -o addr show | awk -v b="$BRIDGE" '$2 != b && $4 ~ /^10\.210\.0\./ {print $2 " " $4}')
  [ -z "$clash" ] || die "the lab's subnet $SUBNET is already used on this machine ($clash); the lab cannot share it"
}

setup_network() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  ip addr replace "$BRIDGE_ADDR/$PREFIX" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # A dockerd in the root namespace (e.g. the one Debian's docker.io starts under systemd) sets
  # the FORWARD policy to DROP, and with br_netfilter bridged frames go through FORWARD: let the
  # lab's bridge carry its own traffic. Traffic from the lab to anywhere else is dropped: lab
  # hosts must only ever talk to each other and to this machine.
  iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment "$IPT_TAG" -j ACCEPT 2>/dev/null ||
    iptables -I FORWARD 1 -i "$BRIDGE" -o "$BRIDGE" -m comment --comment "$IPT_TAG" -j ACCEPT
  iptables -C FORWARD -i "$BRIDGE" ! -o "$BRIDGE" -m comment --comment "$IPT_TAG" -j DROP 2>/dev/null ||
    iptables -I FORWARD 2 -i "$BRIDGE" ! -o "$BRIDGE" -m comment --comment "$IPT_TAG" -j DROP
  iptables -C FORWARD ! -i "$BRIDGE" -o "$BRIDGE" -m comment --comment "$IPT_TAG" -j DROP 2>/dev/null ||
    iptables -I FORWARD 3 ! -i "$BRIDGE" -o "$BRIDGE" -m comment --comment "$IPT_TAG" -j DROP
}

create_host() { # $1 = K
  local k=$1 h="lab$1" d addr i
  d=$(host_dir "$h")
  addr=$(host_addr "$k")
  mkdir -p "$d"/{etc-docker,run/sshd,lib-docker,lib-docker-overlay,log,ssh,root}
  chmod 0755 "$d/run/sshd"
  chmod 0700 "$d/root"
  echo "$h" >"$d/hostname"
  {
    printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n' "$h"
    for ((i = 1; i <= N; i++)); do printf '%s\tlab%s\n' "$(host_addr "$i")" "$i"; done
  } >"$d/hosts"
  echo "$h" >"$d/run/dolab-host"
  # no outside name servers: the lab must not send anything off the machine (nothing answers on
  # the machine's bridge address, so outside names simply fail)
  printf '# lab host %s: no outside DNS (written by lab/lab.sh)\nnameserver %s\n' "$h" "$BRIDGE_ADDR" >"$d/resolv.conf"

  # network namespace + veth to the bridge
  ip netns add "${NS_PREFIX}$h"
  ip link add "${NS_PREFIX}$h" type veth peer name eth0 netns "${NS_PREFIX}$h"
  ip link set "${NS_PREFIX}$h" master "$BRIDGE" up
  ip -n "${NS_PREFIX}$h" link set lo up
  ip -n "${NS_PREFIX}$h" addr add "$addr/$PREFIX" dev eth0
  ip -n "${NS_PREFIX}$h" link set eth0 up
  # a default route like a server has; the root namespace does not forward it anywhere (see the
  # FORWARD rules in setup_network)
  ip -n "${NS_PREFIX}$h" route add default via "$BRIDGE_ADDR"

  # mount, UTS and PID namespaces, held by a long-lived PID 1 (tini, which reaps orphans such as
  # a dockerd detached by setsid) started inside the network namespace. The mount and UTS
  # namespaces are also persisted as bind files in $STATE/ns (a private mount), so they can be
  # named and found. Inside: the host's own /proc (ps shows only the host's processes).
  touch "$STATE/ns/$h.mnt" "$STATE/ns/$h.uts"
  rm -f "$d/run/dolab-ready"
  (cd / && exec nsenter --net="$(netns_of "$h")" -- \
    unshare --mount="$STATE/ns/$h.mnt" --uts="$STATE/ns/$h.uts" --pid --fork --mount-proc \
    --propagation private -- /bin/bash "$HERE/host-init.sh" "$d" "$h" "$STATE" \
    </dev/null >"$d/holder.log" 2>&1 8>&- 9>&-) &
  local unshare_pid=$! holder=
  for ((i = 0; i < 100; i++)); do
    if [ -f "$d/run/dolab-ready" ]; then
      holder=$(pgrep -P "$unshare_pid" | head -n1)
      [ -n "$holder" ] && break
    fi
    kill -0 "$unshare_pid" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$holder" ] || die "could not create the namespaces of $h: $(cat "$d/holder.log" 2>/dev/null)"
  echo "$holder" >"$STATE/ns/$h.holder"

  # sshd: host key per lab, key-only root login, listening on the host's address only
  ssh-keygen -q -t ed25519 -N '' -C "$h" -f "$d/ssh/ssh_host_ed25519_key"
  cat >"$d/ssh/sshd_config" <<EOF
# sshd of lab host $h (written by lab/lab.sh)
ListenAddress $addr:22
HostKey $d/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile $STATE/ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
X11Forwarding no
PrintMotd no
PrintLastLog no
MaxStartups 200:30:400
MaxSessions 100
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
  in_host "$h" /usr/sbin/sshd -f "$d/ssh/sshd_config" -E /var/log/sshd.log
}

start_dockerds() {
  local k pids=() fail=0 out
  out=$(mktemp -d)
  for ((k = 1; k <= N; k++)); do
    DOLAB_DOCKERD_START_TIMEOUT=60 in_host "lab$k" "$RESTART_CMD" start >"$out/lab$k" 2>&1 &
    pids+=($!)
  done
  for ((k = 1; k <= N; k++)); do
    if ! wait "${pids[$((k - 1))]}"; then
      fail=1
      sed "s/^/  lab$k: /" "$out/lab$k" >&2
    fi
  done
  rm -rf "$out"
  [ "$fail" -eq 0 ] || die "a dockerd did not start (see above and $STATE/hosts/labK/log/dockerd.log)"
}

write_lab_json() {
  local k h hosts='[]' key
  for ((k = 1; k <= N; k++)); do
    h="lab$k"
    key=$(cut -d' ' -f1,2 "$(host_dir "$h")/ssh/ssh_host_ed25519_key.pub")
    hosts=$(jq -c --arg name "$h" --arg addr "$(host_addr "$k")" --arg key "$key" \
      --arg sock "$(host_dir "$h")/run/docker.sock" \
      '. + [{name: $name, hostname: $name, address: $addr, sshPort: 22, sshUser: "root",
             hostKey: $key, dockerSocket: $sock}]' <<<"$hosts")
  done
  jq -n --argjson hosts "$hosts" --arg priv "$STATE/ssh/id_ed25519" --arg pub "$STATE/ssh/id_ed25519.pub" \
    --arg restart "$RESTART_CMD" --arg bb "$IMAGE_BUSYBOX" --arg etcd "$IMAGE_ETCD" --arg consul "$IMAGE_CONSUL" \
    --arg zk "$IMAGE_ZOOKEEPER" --arg engine "$(lab_engine)" --arg dockerd "$LAB_BIN/dockerd" \
    --arg bridge "$BRIDGE" --arg subnet "$SUBNET" --arg kh "$STATE/ssh/known_hosts" \
    --arg cfg "$STATE/ssh/config" \
    '{hosts: $hosts, privateKeyPath: $priv, publicKeyPath: $pub, knownHostsPath: $kh,
      sshConfigPath: $cfg, restartCommand: [$restart, "restart"],
      daemonLogCommand: ["tail", "-n", "50", "/var/log/dockerd.log"],
      images: {busybox: $bb, etcd: $etcd, consul: $consul, zookeeper: $zk}, engine: $engine, dockerd: $dockerd,
      bridge: $bridge, subnet: $subnet}' >"$STATE/lab.json.tmp"
  mv "$STATE/lab.json.tmp" "$STATE/lab.json"
}

write_ssh_client_files() {
  local k h
  : >"$STATE/ssh/known_hosts"
  : >"$STATE/ssh/config"
  for ((k = 1; k <= N; k++)); do
    h="lab$k"
    echo "$(host_addr "$k") $(cut -d' ' -f1,2 "$(host_dir "$h")/ssh/ssh_host_ed25519_key.pub")" >>"$STATE/ssh/known_hosts"
    cat >>"$STATE/ssh/config" <<EOF
Host $h
  HostName $(host_addr "$k")
  User root
  IdentityFile $STATE/ssh/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $STATE/ssh/known_hosts
  StrictHostKeyChecking yes
  LogLevel ERROR
EOF
  done
}

ssh_ok() { # $1 = host name
  ssh -F "$STATE/ssh/config" -o BatchMode=yes -o ConnectTimeout=3 "$1" true >/dev/null 2>&1
}

lab_healthy() { # quiet; 0 if a lab of $1 hosts is up and every host answers
  local size=$1 k have
  [ -s "$STATE/lab.json" ] || return 1
  have=$(jq '.hosts | length' "$STATE/lab.json" 2>/dev/null) || return 1
  [ "$have" = "$size" ] || return 1
  # made with this toolchain's dockerd, consul and image recipe
  [ "$(jq -r '.engine // ""' "$STATE/lab.json" 2>/dev/null)" = "$(lab_engine)" ] || return 1
  for ((k = 1; k <= size; k++)); do
    [ -e "$(netns_of "lab$k")" ] || return 1
    ssh_ok "lab$k" || return 1
    timeout 5 docker -H "unix://$(host_dir "lab$k")/run/docker.sock" version >/dev/null 2>&1 || return 1
  done
}

up_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "${UP_DONE:-1}" = 0 ]; then
    echo "[lab] up failed; the partial lab is left for inspection: lab.sh status, then lab.sh down" >&2
  fi
}

cmd_up() {
  local recreate=0 arg k
  N=3
  for arg in "$@"; do
    case $arg in
      --recreate) recreate=1 ;;
      '' | *[!0-9]*) usage >&2; exit 2 ;;
      *) N=$arg ;;
    esac
  done
  if [ "$N" -lt 1 ] || [ "$N" -gt 200 ]; then die "N must be between 1 and 200"; fi

  find_lab_bins
  if [ "$recreate" -eq 0 ] && lab_healthy "$N"; then
    # keep the restart command in step with this checkout even when nothing else changes
    install -m 0755 "$HERE/dolab-dockerd" "$RESTART_CMD"
    log "a lab of $N hosts is already up and healthy; nothing to do ($STATE/lab.json)"
    return 0
  fi
  if [ -e "$STATE" ] || [ -n "$(lab_hosts_present)" ] || ip link show "$BRIDGE" >/dev/null 2>&1; then
    if [ "$recreate" -eq 1 ]; then
      log "removing the previous lab first (--recreate)"
    elif [ -s "$STATE/lab.json" ] && [ "$(jq '.hosts | length' "$STATE/lab.json" 2>/dev/null)" != "$N" ]; then
      log "removing the previous lab first (it has $(jq '.hosts | length' "$STATE/lab.json") hosts, $N wanted)"
    else
      log "removing the previous lab first (it is incomplete or a host does not answer)"
    fi
    cmd_down quiet
  fi

  log "checking packages and kernel features"
  ensure_packages
  ensure_kernel
  check_subnet
  UP_DONE=0
  trap up_exit EXIT

  log "building/reusing image root filesystems in $CACHE"
  TAR_BUSYBOX=$(image_tarball busybox)
  TAR_ETCD=$(image_tarball etcd)
  TAR_CONSUL=$(image_tarball consul)

  install -m 0755 "$HERE/dolab-dockerd" "$RESTART_CMD"
  mkdir -p "$STATE/ns" "$STATE/ssh" "$STATE/hosts" "$LAB_BIN"
  install -m 0755 "$LAB_SRC/dockerd" "$LAB_SRC/consul" "$LAB_BIN/"
  chmod 0755 "$STATE"
  chmod 0700 "$STATE/ssh"
  echo "$N" >"$STATE/size"
  # mount points the hosts bind over; remember the ones we created so `down` removes them again
  for dir in /var/lib/docker /var/lib/docker-overlay; do
    if [ ! -d "$dir" ]; then
      mkdir -p "$dir"
      echo "$dir" >>"$STATE/created-dirs"
    fi
  done
  mkdir -p /etc/docker
  # namespace bind files must live on a private mount, otherwise unshare cannot persist a mount
  # namespace (the bind would propagate into the namespace itself)
  mount --bind "$STATE/ns" "$STATE/ns"
  mount --make-private "$STATE/ns"

  log "client key pair"
  ssh-keygen -q -t ed25519 -N '' -C "docker-overlay-lab" -f "$STATE/ssh/id_ed25519"
  cp "$STATE/ssh/id_ed25519.pub" "$STATE/ssh/authorized_keys"
  chmod 0600 "$STATE/ssh/authorized_keys"

  log "bridge $BRIDGE ($BRIDGE_ADDR/$PREFIX) and iptables rules (comment '$IPT_TAG')"
  setup_network

  for ((k = 1; k <= N; k++)); do
    log "host lab$k: namespaces, $(host_addr "$k") on $BRIDGE, sshd"
    create_host "$k"
  done
  write_ssh_client_files

  log "starting $N dockerd ($("$LAB_BIN/dockerd" --version), built from moby's source with Consul's store)"
  start_dockerds

  log "loading images $IMAGE_BUSYBOX, $IMAGE_ETCD and $IMAGE_CONSUL on every host"
  local pids=()
  for ((k = 1; k <= N; k++)); do
    load_images "lab$k" &
    pids+=($!)
  done
  for k in "${pids[@]}"; do wait "$k" || die "image import failed"; done

  log "checking ssh to every host with pinned host keys"
  for ((k = 1; k <= N; k++)); do
    ssh_ok "lab$k" || die "ssh to lab$k failed (see $(host_dir "lab$k")/log/sshd.log)"
  done

  write_lab_json
  UP_DONE=1
  log "lab of $N hosts is up: $STATE/lab.json"
  log "try: ssh -F $STATE/ssh/config lab1 docker info"
}

# ---------------------------------------------------------------------------------------------
# down
# ---------------------------------------------------------------------------------------------
ns_inode() { stat -L -c %i "$1" 2>/dev/null; }

# pids of every process in a lab host's namespaces, every sshd/dockerd started from the lab's
# files, and all their descendants (containers are children of containerd-shims)
lab_pids() {
  local inodes=() f ino
  for f in /run/netns/"${NS_PREFIX}"* "$STATE"/ns/*.mnt "$STATE"/ns/*.uts; do
    [ -e "$f" ] || continue
    ino=$(ns_inode "$f") && inodes+=("$ino")
  done
  {
    if [ "${#inodes[@]}" -gt 0 ]; then
      # "/proc/PID/ns net:[INODE]" for every process, kept when INODE is one of the lab's
      find /proc/[0-9]*/ns -maxdepth 1 \( -name net -o -name mnt -o -name uts \) -printf '%h %l\n' 2>/dev/null |
        awk -v want="${inodes[*]}" 'BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) keep[w[i]] = 1 }
          { split($1, p, "/"); ino = $2; sub(/.*\[/, "", ino); sub(/\]/, "", ino); if (ino in keep) print p[3] }'
    fi
    # processes that reference the lab's files even if their namespaces are gone
    pgrep -f "$STATE/" 2>/dev/null || true
  } | sort -un | grep -vx "$$" || true
}

descendants() { # pids on stdin -> those pids plus all descendants
  local all
  all=$(ps -e -o pid=,ppid=)
  awk -v seeds="$(tr '\n' ' ')" 'BEGIN { n = split(seeds, s, " "); for (i = 1; i <= n; i++) keep[s[i]] = 1 }
       { parent[$1] = $2 }
       END { changed = 1
             while (changed) { changed = 0
               for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } }
             for (p in keep) print p }' <<<"$all"
}

ancestors() { # this shell and every process above it: never ours to kill
  local p=$$
  while [ -n "$p" ] && [ "$p" -gt 1 ]; do
    echo "$p"
    # ps, not /proc/PID/stat: a command name with spaces or parens shifts stat's fields
    p=$(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' ') || break
  done
}

cmd_down() {
  local quiet=${1:-} round pids m h f mine
  [ "$quiet" = quiet ] || log "stopping lab processes"
  mine=$(ancestors)
  # killing a host's PID 1 (the tini holder) makes the kernel kill every process in its PID
  # namespace and in the namespaces below it (the containers)
  for f in "$STATE"/ns/*.holder; do
    [ -e "$f" ] || continue
    m=$(cat "$f")
    if [[ "$m" =~ ^[0-9]+$ ]] && [ "$(cat "/proc/$m/comm" 2>/dev/null)" = tini ]; then
      kill -KILL "$m" 2>/dev/null || true
    fi
  done
  for round in 1 2 3 4 5 6 7 8 9 10; do
    # leave out our own ancestors before expanding to descendants: a caller whose command line
    # names the state dir must survive, and so must this script's own subshells
    pids=$( (lab_pids | grep -vxF "$mine" || true) | descendants | grep -vxF "$mine" || true)
    [ -n "$pids" ] || break
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.2
  done
  [ "$round" -lt 10 ] || warn "some lab processes would not die: $pids"

  [ "$quiet" = quiet ] || log "unmounting and removing namespaces, links, iptables rules"
  # everything mounted under the state dir (namespace bind files, the private ns dir), deepest first
  for round in 1 2 3; do
    while read -r m; do
      umount -l "$m" 2>/dev/null || true
    done < <(awk -v s="$STATE" '$5 == s || index($5, s "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  done
  for f in /run/netns/"${NS_PREFIX}"*; do
    [ -e "$f" ] || continue
    ip netns delete "$(basename "$f")" 2>/dev/null || umount -l "$f" 2>/dev/null || true
    rm -f "$f"
  done
  while read -r h; do
    if [ -n "$h" ]; then ip link delete "$h" 2>/dev/null || true; fi
  done < <(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep "^${NS_PREFIX}lab" || true)
  ip link delete "$BRIDGE" 2>/dev/null || true
  local rule
  while rule=$(iptables -S FORWARD 2>/dev/null | grep -- "--comment $IPT_TAG" | head -n1) && [ -n "$rule" ]; do
    # shellcheck disable=SC2086
    eval "iptables ${rule/-A /-D }" || break
  done

  if [ -f "$STATE/created-dirs" ]; then
    while read -r f; do rmdir "$f" 2>/dev/null || true; done <"$STATE/created-dirs"
  fi
  if awk -v s="$STATE" 'index($5, s) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    die "mounts under $STATE remain; not removing it (see /proc/self/mountinfo)"
  fi
  rm -rf "$STATE"
  rm -f "$RESTART_CMD"
  [ "$quiet" = quiet ] || log "lab removed"
}

# ---------------------------------------------------------------------------------------------
# status
# ---------------------------------------------------------------------------------------------
cmd_status() {
  local n k h ok=0 sshs dock ver
  if [ ! -s "$STATE/lab.json" ]; then
    if [ -n "$(lab_hosts_present)" ]; then
      echo "lab: partially present (no $STATE/lab.json); run: $0 down"
    else
      echo "lab: down"
    fi
    return 1
  fi
  n=$(jq '.hosts | length' "$STATE/lab.json")
  echo "lab: $n hosts, bridge $BRIDGE $SUBNET, description $STATE/lab.json"
  printf '%-6s %-12s %-6s %-24s %s\n' HOST ADDRESS SSH DOCKER SOCKET
  for ((k = 1; k <= n; k++)); do
    h="lab$k"
    sshs=down dock=down
    ssh_ok "$h" && sshs=ok
    if ver=$(timeout 5 docker -H "unix://$(host_dir "$h")/run/docker.sock" version --format '{{.Server.Version}}' 2>/dev/null); then
      dock="ok ($ver)"
    fi
    [ "$sshs" = ok ] && [ "${dock%% *}" = ok ] || ok=1
    printf '%-6s %-12s %-6s %-24s %s\n' "$h" "$(host_addr "$k")" "$sshs" "$dock" "$(host_dir "$h")/run/docker.sock"
  done
  return "$ok"
}

# exec/sshd act on one host of a running lab; the test that calls them holds the session lock.
lab_host_arg() { # $1 = host name; dies unless it is a host of the running lab
  if ! [[ ${1:-} =~ ^lab[0-9]+$ ]] || ! [ -s "$STATE/ns/$1.holder" ]; then
    die "no lab host '${1:-}' (hosts: $(find "$STATE/ns" -name '*.holder' -printf '%f ' 2>/dev/null | sed 's/\.holder//g'))"
  fi
}

cmd_load_image() { # $1 = zookeeper, then hosts (default: every host)
  [ "${1:-}" = zookeeper ] || die "usage: $0 load-image zookeeper [HOST...]"
  shift
  local hosts=("$@") h missing=()
  if [ ${#hosts[@]} -eq 0 ]; then
    mapfile -t hosts < <(find "$STATE/ns" -name '*.holder' -printf '%f\n' | sed 's/\.holder$//' | sort)
  fi
  for h in "${hosts[@]}"; do lab_host_arg "$h"; done
  [ -x "$JDK/bin/jlink" ] || missing+=(openjdk-17-jdk-headless)
  [ -f /usr/share/java/zookeeper.jar ] || missing+=(zookeeper)
  [ -f /usr/share/java/slf4j-simple.jar ] || missing+=(libslf4j-java)
  command -v unzip >/dev/null || missing+=(unzip)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing missing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; } ||
      die "apt-get install ${missing[*]} failed"
  fi
  local tar
  tar=$(image_tarball zookeeper)
  for h in "${hosts[@]}"; do
    docker -H "unix://$(host_dir "$h")/run/docker.sock" import \
      --change 'ENV PATH=/opt/java/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENTRYPOINT ["docker-entrypoint.sh"]' "$tar" "$IMAGE_ZOOKEEPER" >/dev/null
    log "$h: $IMAGE_ZOOKEEPER loaded"
  done
}

cmd_exec() {
  lab_host_arg "${1:-}"
  local h=$1
  shift
  [ $# -gt 0 ] || die "usage: $0 exec HOST CMD..."
  in_host "$h" "$@"
}

cmd_sshd() {
  lab_host_arg "${1:-}"
  local h=$1 d
  d=$(host_dir "$h")
  case ${2:-} in
    # every sshd process of the host: the listener and the sessions it serves (a pid namespace
    # of its own, so pkill sees only this host's processes)
    stop) in_host "$h" pkill -KILL -x sshd || true; rm -f "$d/run/sshd.pid"; log "$h: sshd stopped" ;;
    start) in_host "$h" /usr/sbin/sshd -f "$d/ssh/sshd_config" -E /var/log/sshd.log; ssh_ok "$h" || die "$h: sshd started but ssh does not answer (see $d/log/sshd.log)"; log "$h: sshd started" ;;
    *) die "usage: $0 sshd HOST stop|start" ;;
  esac
}

main() {
  local cmd=${1:-}
  case $cmd in
    exec | sshd | load-image)
      need_root "$@"
      shift
      "cmd_${cmd/-/_}" "$@"
      return
      ;;
    up | down | status) need_root "$@" ;;
    -h | --help | help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
  mkdir -p /run/lock
  # One lab per machine, and a test file uses it for minutes: up/down wait while a test holds
  # the session lock. A test that holds it itself says so with DOCKER_OVERLAY_LAB_SESSION=held.
  if [[ $cmd != status && ${DOCKER_OVERLAY_LAB_SESSION:-} != held ]]; then
    exec 8>/run/lock/docker-overlay-lab.session
    if ! flock -n 8; then
      log "a test is using the lab (lock /run/lock/docker-overlay-lab.session); waiting for it to finish"
      flock -w 1800 8 || die "gave up after 30 min waiting for the test that uses the lab"
    fi
  fi
  # one lab per machine: concurrent up/down (e.g. two test runs) wait for each other
  exec 9>/run/lock/docker-overlay-lab.lock
  if ! flock -n 9; then
    log "another lab.sh is running; waiting for it (lock /run/lock/docker-overlay-lab.lock)"
    flock -w 600 9 || die "gave up waiting for the other lab.sh"
  fi
  case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down ;;
    status) cmd_status ;;
  esac
}

main "$@"
