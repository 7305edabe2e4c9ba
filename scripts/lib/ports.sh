# Shared by scripts/setup-services.sh and scripts/rabbitmq4.sh (sourced, not run); the caller
# defines log().

wait_port() {  # wait_port PORT SECONDS: until 127.0.0.1:PORT accepts a connection
    local port=$1 deadline=$((SECONDS + $2))
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            log "port $port did not open in $2 s"
            return 1
        fi
        sleep 1
    done
}
