#!/usr/bin/env bash
# RabbitMQ 4.0 from Debian 13's packages, run from a Debian 13 root (debootstrap + chroot).
#
#   scripts/rabbitmq4.sh build            make the root once (about a minute; a few hundred MB)
#   scripts/rabbitmq4.sh start [beside]   start the 4.0 node: on the default ports (5672, 5552,
#                                         15672) or "beside" the machine's own node (5673, 5553,
#                                         15673); the caller stops the machine's node first when
#                                         it takes the default ports
#   scripts/rabbitmq4.sh stop             stop the 4.0 node
#   scripts/rabbitmq4.sh bin              print a folder whose rabbitmqctl, rabbitmq-plugins,
#                                         rabbitmq-diagnostics and rabbitmq-streams drive the
#                                         4.0 node (put it first in PATH)
#   scripts/rabbitmq4.sh root             print the root (built and mounted) for other nodes run
#                                         from it with chroot (scripts/cluster.sh)
#
# HARE_RABBITMQ4_ROOT chooses where the root lives (default /var/lib/hare/debian13).
set -euo pipefail

ROOT=${HARE_RABBITMQ4_ROOT:-/var/lib/hare/debian13}
MIRROR=${HARE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
BIN="$ROOT.bin"
log() { printf '[rabbitmq4] %s\n' "$*"; }

source "$(dirname "${BASH_SOURCE[0]}")/lib/ports.sh"

mount_all() {
    for m in proc dev sys; do
        mountpoint -q "$ROOT/$m" || mount --bind "/$m" "$ROOT/$m"
    done
}

node_name() { sed -n 's/^NODENAME=//p' "$ROOT/etc/rabbitmq/rabbitmq-env.conf" 2>/dev/null || true; }

share_cookie() {  # the CLI runs as root in the root: give it the node's Erlang cookie
    local cookie="$ROOT/var/lib/rabbitmq/.erlang.cookie" deadline=$((SECONDS + 30))
    until [[ -s $cookie ]] || ((SECONDS >= deadline)); do sleep 0.2; done
    install -m 400 "$cookie" "$ROOT/root/.erlang.cookie"
}

write_wrappers() {
    mkdir -p "$BIN"
    local tool plugins
    plugins=$(cd "$ROOT" && echo usr/lib/rabbitmq/lib/rabbitmq_server-*/plugins)
    plugins="/$plugins"  # as the CLI sees it inside the root
    for tool in rabbitmqctl rabbitmq-plugins rabbitmq-diagnostics rabbitmq-streams rabbitmq-queues \
        rabbitmq-upgrade; do
        cat >"$BIN/$tool" <<EOF
#!/usr/bin/env bash
# Runs the RabbitMQ 4.0 CLI inside $ROOT against the node started by scripts/rabbitmq4.sh.
exec chroot "$ROOT" /usr/bin/env PLUGINS_DIR="$plugins" /usr/lib/rabbitmq/bin/$tool \\
    -n "\$(sed -n 's/^NODENAME=//p' $ROOT/etc/rabbitmq/rabbitmq-env.conf)" "\$@"
EOF
        chmod +x "$BIN/$tool"
    done
}

build() {
    if [[ -x "$ROOT/usr/lib/rabbitmq/bin/rabbitmq-server" ]]; then
        write_wrappers
        return 0
    fi
    if ! command -v debootstrap >/dev/null 2>&1; then
        log "installing debootstrap"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    log "making a Debian 13 root at $ROOT"
    mkdir -p "$ROOT"
    debootstrap --variant=minbase trixie "$ROOT" "$MIRROR" >/dev/null
    mount_all
    cp /etc/resolv.conf "$ROOT/etc/"
    log "installing rabbitmq-server in the root"
    chroot "$ROOT" bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends rabbitmq-server >/dev/null'
    # Debian starts no service inside a chroot; the node is started by `start` below.
    chroot "$ROOT" rabbitmq-plugins --offline enable rabbitmq_stream rabbitmq_management >/dev/null
    write_wrappers
    log "built: $(chroot "$ROOT" dpkg-query -W -f='${Version}' rabbitmq-server)"
}

configure() {  # configure default|beside
    local amqp=5672 stream=5552 mgmt=15672 dist=25672 name=rabbit@localhost
    if [[ $1 == beside ]]; then
        amqp=5673 stream=5553 mgmt=15673 dist=25673 name=rabbit4@localhost
    fi
    cat >"$ROOT/etc/rabbitmq/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$amqp
stream.listeners.tcp.1 = 127.0.0.1:$stream
management.tcp.ip = 127.0.0.1
management.tcp.port = $mgmt
loopback_users = none
EOF
    cat >"$ROOT/etc/rabbitmq/rabbitmq-env.conf" <<EOF
NODENAME=$name
DIST_PORT=$dist
EOF
    echo "$amqp $stream $mgmt"
}

start() {
    build
    mount_all
    local where=${1:-default} ports
    if [[ -n "$(node_name)" ]] && share_cookie && "$BIN/rabbitmq-diagnostics" -q ping >/dev/null 2>&1; then
        log "already running as $(node_name)"
        return 0
    fi
    read -r -a ports < <(configure "$where")
    log "starting RabbitMQ 4.0 ($where: AMQP ${ports[0]}, streams ${ports[1]}, management ${ports[2]})"
    chroot "$ROOT" rabbitmq-server -detached
    share_cookie
    # `-detached` returns before the node registers with epmd, and `await_startup` gives up at
    # once on a node epmd does not know: wait for the first answer to a ping, then for the boot.
    if ! wait_until 120 "the 4.0 node did not answer a ping" "$BIN/rabbitmq-diagnostics" -q ping; then
        log "the end of its log:"
        tail -n 40 "$ROOT"/var/log/rabbitmq/*.log 2>/dev/null || true
        return 1
    fi
    "$BIN/rabbitmqctl" await_startup --timeout 120 >/dev/null
    for port in "${ports[@]}"; do wait_port "$port" 120; done
    log "RabbitMQ $("$BIN/rabbitmqctl" -q version) is up"
}

stop() {
    if [[ -x "$BIN/rabbitmqctl" ]] && [[ -n "$(node_name)" ]]; then
        "$BIN/rabbitmqctl" stop >/dev/null 2>&1 || true
        log "stopped $(node_name)"
    fi
}

case ${1:-} in
    build) build ;;
    start) start "${2:-default}" ;;
    stop) stop ;;
    bin) build >/dev/null && echo "$BIN" ;;
    root) build >/dev/null && mount_all && echo "$ROOT" ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
esac
