#!/usr/bin/env bash
# Make sure RabbitMQ (with the stream and management plugins), Redis and PostgreSQL are up on this
# machine.
# Shared by the README, scripts/demo.sh, scripts/test.sh and .ci/run. Needs root for apt-get.
#
# HARE_RABBITMQ chooses the broker:
#   system (default)  the machine's own rabbitmq-server (Debian's package: 3.10 on Debian 12,
#                     4.0 on Debian 13) on 5672 (AMQP), 5552 (streams), 15672 (management)
#   4.0               RabbitMQ 4.0.5 from a Debian 13 root (scripts/rabbitmq4.sh), beside the
#                     machine's broker on 5673, 5553, 15673; the machine's broker is left as it is
# Both get the same readiness checks. Tests find the broker in use through the same variable
# (tests/support/broker.py).
set -euo pipefail

log() { printf '[setup] %s\n' "$*"; }

source "$(dirname "${BASH_SOURCE[0]}")/lib/ports.sh"

apt_install() {
    if [[ -z "${_APT_UPDATED:-}" ]]; then
        apt-get update -qq
        _APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ready() {  # ready CLI_DIR AMQP STREAM MGMT: the node has booted, its plugins and ports are up
    local bin=$1 deadline=$((SECONDS + 120))
    "$bin/rabbitmqctl" await_startup --timeout 120 >/dev/null
    "$bin/rabbitmq-plugins" enable --quiet rabbitmq_stream rabbitmq_management >/dev/null
    wait_port "$2" 120
    wait_port "$3" 120
    wait_port "$4" 120
    wait_until $((deadline > SECONDS ? deadline - SECONDS : 0)) \
        "the management API on port $4 did not answer" \
        curl -fsS -u guest:guest "http://127.0.0.1:$4/api/overview" || return 1
    log "RabbitMQ $("$bin/rabbitmqctl" -q version) is up ($2 AMQP, $3 streams, $4 management)"
}

command -v curl >/dev/null 2>&1 || apt_install curl
case ${HARE_RABBITMQ:-system} in
    system)
        if ! command -v rabbitmq-server >/dev/null 2>&1; then
            log "installing rabbitmq-server"
            apt_install rabbitmq-server
        fi
        if ! rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
            log "starting rabbitmq-server"
            rabbitmq-server -detached || true
            wait_port 5672 120
        fi
        ready "$(dirname "$(command -v rabbitmqctl)")" 5672 5552 15672
        ;;
    4.0)
        bash "$(dirname "$0")/rabbitmq4.sh" start beside
        ready "$(bash "$(dirname "$0")/rabbitmq4.sh" bin)" 5673 5553 15673
        ;;
    *)
        log "HARE_RABBITMQ=${HARE_RABBITMQ} is not a broker this script knows: use system or 4.0"
        exit 2
        ;;
esac

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

# PostgreSQL for the outbox and inbox tests: trust auth on 127.0.0.1, a database named test.
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    log "installing postgresql"
    apt_install postgresql
fi
PG_VERSION=$(ls /etc/postgresql | sort -V | tail -1)
if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
    HBA=/etc/postgresql/$PG_VERSION/main/pg_hba.conf
    if ! grep -q '^host all all 127.0.0.1/32 trust' "$HBA"; then
        log "PostgreSQL $PG_VERSION: trust auth for 127.0.0.1 (a test machine's database)"
        sed -i '1i host all all 127.0.0.1/32 trust' "$HBA"
    fi
    log "starting PostgreSQL $PG_VERSION"
    pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main start
    wait_port 5432 60
fi
if ! su postgres -c "psql -lqt" | cut -d'|' -f1 | grep -qw test; then
    su postgres -c "createdb test"
fi
log "PostgreSQL is up (5432, database test)"
