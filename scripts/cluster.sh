#!/usr/bin/env bash
# A 3-node RabbitMQ cluster on this machine, with HAProxy in front.
#
#   scripts/cluster.sh up        start hare1..hare3@localhost, join them, start HAProxy; waits
#   scripts/cluster.sh status    one line per node (name, state, management URL), then the URLs
#   scripts/cluster.sh kill N    SIGKILL node N (a crash, not a clean stop)
#   scripts/cluster.sh revive N  start node N again; it rejoins the cluster by itself
#   scripts/cluster.sh down      stop everything this script started and delete its directory
#   scripts/cluster.sh ctl N TOOL ARGS   run a RabbitMQ CLI tool (rabbitmqctl, …) against node N
#
# HARE_RABBITMQ chooses the nodes' RabbitMQ: "system" (default; the machine's rabbitmq-server,
# nodes hare1..hare3@localhost) or "4.0" (RabbitMQ 4.0 from the Debian 13 root of
# scripts/rabbitmq4.sh, run through chroot; nodes r4hare1..r4hare3@localhost). Both clusters can
# run at the same time: they have their own names, ports and directories.
#
# Everything lives under HARE_CLUSTER_DIR (default /tmp/hare-cluster, or /var/lib/hare-cluster
# inside the Debian 13 root for 4.0): one directory per node (config, data, logs, pid) and a HOME
# with the Erlang cookie shared by the nodes and the CLI.
# Ports come from HARE_CLUSTER_PORT_BASE (default 27000; 28000 for 4.0), B below. They stay under
# the kernel's ephemeral range (32768 and up), where any outgoing connection may hold a port:
#   HAProxy   AMQP B+1, streams B+2
#   node N    AMQP B+100N+1, streams +2, management +3, distribution +4,
#             CLI distribution +10..+20, stream replication (osiris) +50..+99
# The machine's default broker (rabbit@localhost: 5672, 5552, 15672, 25672, /etc/rabbitmq,
# /var/lib/rabbitmq) is never touched: every command below names our nodes and our files.
set -euo pipefail

case ${HARE_RABBITMQ:-system} in
system)
    ROOT=""            # the nodes run on this machine's file system
    RUN=()
    NAME_PREFIX=hare
    BASE_DIR=${HARE_CLUSTER_DIR:-/tmp/hare-cluster}
    PORT_BASE=${HARE_CLUSTER_PORT_BASE:-27000}
    ;;
4.0)
    ROOT=$(bash "$(dirname "$0")/rabbitmq4.sh" root)
    RUN=(chroot "$ROOT")  # the nodes and their CLI run inside the root; files are under $ROOT
    NAME_PREFIX=r4hare
    BASE_DIR=$ROOT${HARE_CLUSTER_DIR:-/var/lib/hare-cluster}
    PORT_BASE=${HARE_CLUSTER_PORT_BASE:-28000}
    ;;
*)
    echo "[cluster] error: HARE_RABBITMQ=$HARE_RABBITMQ is not known; use system or 4.0." >&2
    exit 2
    ;;
esac
NODES=(1 2 3)
RMQ_BIN=/usr/lib/rabbitmq/bin  # as the nodes see it
HOME_DIR="$BASE_DIR/home"
LB_AMQP_PORT=$((PORT_BASE + 1))
LB_STREAM_PORT=$((PORT_BASE + 2))
BOOT_TIMEOUT_S=${HARE_CLUSTER_BOOT_TIMEOUT_S:-90}

log() { printf '[cluster] %s\n' "$*" >&2; }
die() {
    printf '[cluster] error: %s\n' "$*" >&2
    exit 1
}

node_name() { echo "$NAME_PREFIX$1@localhost"; }
inside() { echo "${1#"$ROOT"}"; }  # a path under BASE_DIR as the nodes see it
node_dir() { echo "$BASE_DIR/hare$1"; }
port() { # port N OFFSET
    echo $((PORT_BASE + 100 * $1 + $2))
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid_alive FILE: the process in FILE runs and is ours. A pid file left behind (a reboot, a
# crash) may name a process of someone else by now: it counts only when its command line or
# environment names our files (the node's env file, HAProxy's config).
pid_alive() {
    [[ -s $1 ]] || return 1
    local pid needle
    pid=$(cat "$1")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    if [[ $1 == */haproxy.pid ]]; then
        needle="$BASE_DIR/haproxy.cfg"
    else
        needle="$(inside "$(dirname "$1")")/rabbitmq-env.conf"
    fi
    grep -qaF "$needle" "/proc/$pid/cmdline" "/proc/$pid/environ" 2>/dev/null
}

# The rabbitmq CLI for node N, with our cookie and env file (never the default broker's).
ctl() { # ctl N TOOL ARGS...
    local n=$1 tool=$2
    shift 2
    HOME="$(inside "$HOME_DIR")" RABBITMQ_CONF_ENV_FILE="$(inside "$(node_dir "$n")")/rabbitmq-env.conf" \
        "${RUN[@]}" "$RMQ_BIN/$tool" -n "$(node_name "$n")" "$@"
}

check_tools() {
    [[ -x $ROOT$RMQ_BIN/rabbitmq-server ]] ||
        die "$ROOT$RMQ_BIN/rabbitmq-server not found; install Debian's rabbitmq-server (apt-get install rabbitmq-server)."
    if ! command -v haproxy >/dev/null 2>&1; then
        [[ $(id -u) == 0 ]] || die "haproxy is not installed; run 'apt-get install haproxy' as root, then retry."
        log "installing haproxy"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null ||
            die "apt-get install haproxy failed; install it by hand, then retry."
    fi
}

# -- files --------------------------------------------------------------------------------

write_home() {
    mkdir -p "$HOME_DIR"
    chmod 700 "$HOME_DIR"
    if [[ ! -s $HOME_DIR/.erlang.cookie ]]; then
        # 20 upper-case letters, as RabbitMQ generates its own.
        local cookie
        cookie=$(tr -dc 'A-Z' </dev/urandom 2>/dev/null | head -c 20 || true)
        ((${#cookie} == 20)) || die "could not make an Erlang cookie from /dev/urandom."
        printf '%s' "$cookie" >"$HOME_DIR/.erlang.cookie"
        chmod 400 "$HOME_DIR/.erlang.cookie"
    fi
}

write_node_files() { # write_node_files N
    local n=$1 dir here
    dir=$(node_dir "$n")
    here=$(inside "$dir")
    mkdir -p "$dir/data" "$dir/log"
    cat >"$dir/rabbitmq-env.conf" <<EOF
NODENAME=$(node_name "$n")
NODE_PORT=$(port "$n" 1)
DIST_PORT=$(port "$n" 4)
CTL_DIST_PORT_MIN=$(port "$n" 10)
CTL_DIST_PORT_MAX=$(port "$n" 20)
CONFIG_FILE=$here/rabbitmq.conf
ADVANCED_CONFIG_FILE=$here/advanced.config
ENABLED_PLUGINS_FILE=$here/enabled_plugins
MNESIA_BASE=$here/data
LOG_BASE=$here/log
PID_FILE=$here/beam.pid
ERL_EPMD_ADDRESS=127.0.0.1
SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
EOF
    cat >"$dir/rabbitmq.conf" <<EOF
cluster_name = hare-cluster
listeners.tcp.1 = 127.0.0.1:$(port "$n" 1)
stream.listeners.tcp.1 = 127.0.0.1:$(port "$n" 2)
stream.advertised_host = 127.0.0.1
stream.advertised_port = $(port "$n" 2)
management.tcp.ip = 127.0.0.1
management.tcp.port = $(port "$n" 3)
collect_statistics_interval = 1000
disk_free_limit.absolute = 50MB
log.console = false
log.file.level = info
EOF
    cat >"$dir/advanced.config" <<EOF
[{osiris, [{port_range, {$(port "$n" 50), $(port "$n" 99)}}]}].
EOF
    echo '[rabbitmq_management,rabbitmq_stream].' >"$dir/enabled_plugins"
}

write_haproxy_cfg() {
    local amqp_servers="" stream_servers="" n
    for n in "${NODES[@]}"; do
        amqp_servers+="    server hare$n 127.0.0.1:$(port "$n" 1)"$'\n'
        stream_servers+="    server hare$n 127.0.0.1:$(port "$n" 2)"$'\n'
    done
    cat >"$BASE_DIR/haproxy.cfg" <<EOF
# Written by scripts/cluster.sh: TCP round robin over the three nodes, health-checked.
global
    maxconn 4096

defaults
    mode tcp
    timeout connect 2s
    timeout client 3h
    timeout server 3h
    timeout check 1s
    retries 3
    option redispatch
    default-server check inter 1s fall 2 rise 2 on-marked-down shutdown-sessions

frontend hare_amqp
    bind 127.0.0.1:$LB_AMQP_PORT
    default_backend hare_amqp_nodes

backend hare_amqp_nodes
    balance roundrobin
${amqp_servers}
frontend hare_stream
    bind 127.0.0.1:$LB_STREAM_PORT
    default_backend hare_stream_nodes

backend hare_stream_nodes
    balance roundrobin
${stream_servers}
EOF
}

# -- nodes --------------------------------------------------------------------------------

node_running() { # the OS process is alive and AMQP answers
    pid_alive "$(node_dir "$1")/beam.pid" && port_open "$(port "$1" 1)"
}

start_node() { # start_node N: starts the VM in the background (returns at once)
    local n=$1 dir p
    dir=$(node_dir "$n")
    if pid_alive "$dir/beam.pid"; then
        return 0
    fi
    for p in 1 2 3 4; do
        if port_open "$(port "$n" "$p")"; then
            die "port $(port "$n" "$p") (for $(node_name "$n")) is taken by another program; set HARE_CLUSTER_PORT_BASE to a free range."
        fi
    done
    rm -f "$dir/beam.pid"
    (
        cd "$dir"
        HOME="$(inside "$HOME_DIR")" RABBITMQ_CONF_ENV_FILE="$(inside "$dir")/rabbitmq-env.conf" \
            setsid nohup "${RUN[@]}" "$RMQ_BIN/rabbitmq-server" >"$dir/log/console.log" 2>&1 </dev/null &
        echo $! >"$dir/wrapper.pid"
    )
}

wait_node() { # wait_node N: until the node runs (fails with the end of its log)
    local n=$1 dir deadline=$((SECONDS + BOOT_TIMEOUT_S))
    dir=$(node_dir "$n")
    until port_open "$(port "$n" 1)"; do
        if ! pid_alive "$dir/wrapper.pid" && ! pid_alive "$dir/beam.pid"; then
            tail -n 20 "$dir/log/console.log" >&2 || true
            die "$(node_name "$n") exited while booting; see $dir/log."
        fi
        ((SECONDS < deadline)) || die "$(node_name "$n") did not open AMQP port $(port "$n" 1) in ${BOOT_TIMEOUT_S} s; see $dir/log."
        sleep 0.5
    done
    ctl "$n" rabbitmqctl -q await_startup --timeout "$BOOT_TIMEOUT_S" >/dev/null ||
        die "$(node_name "$n") did not finish booting; see $dir/log."
}

is_member() { # is_member N: node N is in node 1's cluster
    ctl 1 rabbitmqctl -q cluster_status --formatter json 2>/dev/null |
        grep -q "\"$(node_name "$1")\""
}

join_node() { # join_node N: make node N a member of node 1's cluster
    local n=$1
    is_member "$n" && return 0
    log "joining $(node_name "$n") to $(node_name 1)"
    ctl "$n" rabbitmqctl -q stop_app >/dev/null
    ctl "$n" rabbitmqctl -q join_cluster "$(node_name 1)" >/dev/null ||
        die "$(node_name "$n") could not join $(node_name 1); see $(node_dir "$n")/log."
    ctl "$n" rabbitmqctl -q start_app >/dev/null
    wait_node "$n"
}

kill_pidfile() { # kill_pidfile FILE SIGNAL
    if pid_alive "$1"; then
        kill "-$2" "$(cat "$1")" 2>/dev/null || true
    fi
}

# -- HAProxy ------------------------------------------------------------------------------

start_haproxy() {
    if pid_alive "$BASE_DIR/haproxy.pid"; then
        return 0
    fi
    local p
    for p in "$LB_AMQP_PORT" "$LB_STREAM_PORT"; do
        port_open "$p" && die "port $p (HAProxy) is taken by another program; set HARE_CLUSTER_PORT_BASE to a free range."
    done
    haproxy -c -q -f "$BASE_DIR/haproxy.cfg" || die "HAProxy rejected $BASE_DIR/haproxy.cfg."
    haproxy -D -f "$BASE_DIR/haproxy.cfg" -p "$BASE_DIR/haproxy.pid" ||
        die "HAProxy did not start with $BASE_DIR/haproxy.cfg."
    local deadline=$((SECONDS + 10))
    until port_open "$LB_AMQP_PORT" && port_open "$LB_STREAM_PORT"; do
        ((SECONDS < deadline)) || die "HAProxy did not open ports $LB_AMQP_PORT/$LB_STREAM_PORT."
        sleep 0.2
    done
}

# -- commands -----------------------------------------------------------------------------

cmd_up() {
    check_tools
    mkdir -p "$BASE_DIR"
    write_home
    local n
    for n in "${NODES[@]}"; do
        [[ -f $(node_dir "$n")/rabbitmq.conf ]] || write_node_files "$n"
    done
    for n in "${NODES[@]}"; do
        node_running "$n" || {
            log "starting $(node_name "$n")"
            start_node "$n"
        }
    done
    for n in "${NODES[@]}"; do wait_node "$n"; done
    for n in "${NODES[@]:1}"; do join_node "$n"; done
    write_haproxy_cfg
    start_haproxy
    log "cluster is up"
    cmd_status
}

cmd_status() {
    [[ -d $BASE_DIR/home ]] || die "no cluster in $BASE_DIR; run 'scripts/cluster.sh up'."
    local n state dir
    for n in "${NODES[@]}"; do
        dir=$(node_dir "$n")
        if node_running "$n"; then
            state=running
        elif pid_alive "$dir/beam.pid" || pid_alive "$dir/wrapper.pid"; then
            state=booting
        else
            state=stopped
        fi
        echo "$(node_name "$n") $state http://127.0.0.1:$(port "$n" 3)/"
    done
    echo "amqp://guest:guest@127.0.0.1:$LB_AMQP_PORT/"
    echo "rabbitmq-stream://guest:guest@127.0.0.1:$LB_STREAM_PORT/"
}

cmd_kill() { # a crash: SIGKILL the node's VM
    local n=$1 dir
    dir=$(node_dir "$n")
    pid_alive "$dir/beam.pid" || die "$(node_name "$n") is not running."
    kill -KILL "$(cat "$dir/beam.pid")"
    local deadline=$((SECONDS + 10))
    while pid_alive "$dir/beam.pid" || pid_alive "$dir/wrapper.pid"; do
        ((SECONDS < deadline)) || die "$(node_name "$n") survived SIGKILL."
        sleep 0.1
    done
    log "killed $(node_name "$n")"
}

cmd_revive() {
    local n=$1
    [[ -f $(node_dir "$n")/rabbitmq.conf ]] || die "$(node_name "$n") was never set up; run 'scripts/cluster.sh up'."
    if ! node_running "$n"; then
        log "starting $(node_name "$n")"
        start_node "$n"
    fi
    wait_node "$n"
    log "$(node_name "$n") is running"
}

cmd_down() {
    [[ -d $BASE_DIR ]] || return 0
    kill_pidfile "$BASE_DIR/haproxy.pid" TERM
    local n dir
    for n in "${NODES[@]}"; do
        dir=$(node_dir "$n")
        kill_pidfile "$dir/beam.pid" KILL
        kill_pidfile "$dir/wrapper.pid" KILL
    done
    local deadline=$((SECONDS + 10))
    for n in "${NODES[@]}"; do
        dir=$(node_dir "$n")
        while pid_alive "$dir/beam.pid" || pid_alive "$dir/wrapper.pid"; do
            ((SECONDS < deadline)) || die "$(node_name "$n") is still running; see $dir."
            sleep 0.1
        done
    done
    while pid_alive "$BASE_DIR/haproxy.pid"; do
        ((SECONDS < deadline)) || die "HAProxy is still running (pid file $BASE_DIR/haproxy.pid)."
        sleep 0.1
    done
    rm -rf "$BASE_DIR"
    log "cluster removed ($BASE_DIR)"
}

check_node_arg() {
    [[ ${1:-} =~ ^[123]$ ]] || die "give a node number 1, 2 or 3 (got '${1:-}')."
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
kill)
    check_node_arg "${2:-}"
    cmd_kill "$2"
    ;;
revive)
    check_node_arg "${2:-}"
    cmd_revive "$2"
    ;;
ctl)
    check_node_arg "${2:-}"
    [[ -n ${3:-} ]] || die "give a tool: rabbitmqctl, rabbitmq-diagnostics, rabbitmq-queues, …"
    ctl "${@:2}"
    ;;
*)
    echo "usage: scripts/cluster.sh up|down|status|kill N|revive N|ctl N TOOL ARGS" >&2
    exit 2
    ;;
esac
