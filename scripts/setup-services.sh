#!/usr/bin/env bash
# Make sure RabbitMQ (with the stream and management plugins) and Redis are up on this machine.
# Shared by the README, scripts/demo.sh, scripts/test.sh and .ci/run. Needs root for apt-get.
set -euo pipefail

log() { printf '[setup] %s\n' "$*"; }

wait_port() {  # wait_port PORT SECONDS
    local port=$1 deadline=$((SECONDS + $2))
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            log "port $port did not open in $2 s"
            return 1
        fi
        sleep 1
    done
}

apt_install() {
    if [[ -z "${_APT_UPDATED:-}" ]]; then
        apt-get update -qq
        _APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! command -v rabbitmq-server >/dev/null 2>&1; then
    log "installing rabbitmq-server"
    apt_install rabbitmq-server
fi
if ! rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
    log "starting rabbitmq-server"
    rabbitmq-server -detached || true
    wait_port 5672 120
fi
rabbitmqctl await_startup --timeout 120 >/dev/null
rabbitmq-plugins enable --quiet rabbitmq_stream rabbitmq_management >/dev/null
wait_port 5672 120
wait_port 5552 120
wait_port 15672 120
log "RabbitMQ is up (5672 AMQP, 5552 streams, 15672 management)"

if ! command -v redis-server >/dev/null 2>&1; then
    log "installing redis-server"
    apt_install redis-server
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
    log "starting redis-server"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    wait_port 6379 30
fi
log "Redis is up (6379)"
