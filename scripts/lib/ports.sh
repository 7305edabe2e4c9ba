# Shared by scripts/setup-services.sh and scripts/rabbitmq4.sh (sourced, not run); the caller
# defines log().

wait_until() {  # wait_until SECONDS WHAT COMMAND...: COMMAND every second until it succeeds;
    # after SECONDS, log "WHAT in SECONDS s" and return 1
    local seconds=$1 what=$2 deadline=$((SECONDS + $1))
    shift 2
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            log "$what in $seconds s"
            return 1
        fi
        sleep 1
    done
}

port_open() {  # port_open PORT: 127.0.0.1:PORT accepts a connection
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_port() {  # wait_port PORT SECONDS: until 127.0.0.1:PORT accepts a connection
    wait_until "$2" "port $1 did not open" port_open "$1"
}
