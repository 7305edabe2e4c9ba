#!/usr/bin/env bash
# The long fault runs, on each RabbitMQ under test (not part of the default pytest run):
#   - the stress target (scripts/stress.sh): the auto-scaled pool and a named stream consumer
#     under link cuts, ROUNDS rounds each: no hang, every stop() within its bound, lost=0;
#   - the soak (benchmarks/bench_soak.py): SECONDS of mixed traffic (retries, poison, duplicate
#     publishes) with every connection cut every few seconds; it exits 1 when an id is lost.
#
#   bash scripts/soak.sh [ROUNDS [SECONDS]]     # CI: bash scripts/soak.sh 3 30
#   HARE_RABBITMQ=4.0 bash scripts/soak.sh      # one broker only (default: "system 4.0")
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-50}
SECONDS_OF_SOAK=${2:-120}
read -r -a BROKERS <<<"${HARE_RABBITMQ:-system 4.0}"
for broker in "${BROKERS[@]}"; do
    path=$PATH
    if [[ $broker == 4.0 ]]; then
        path="$(bash scripts/rabbitmq4.sh bin):$PATH"
    fi
    echo "[soak] RabbitMQ $broker: soak, $SECONDS_OF_SOAK s with cuts every 5 s"
    HARE_RABBITMQ=$broker PATH=$path .venv/bin/python benchmarks/bench_soak.py \
        --seconds "$SECONDS_OF_SOAK" --cut-every 5
    echo "[soak] RabbitMQ $broker: stress, $ROUNDS rounds each"
    HARE_RABBITMQ=$broker PATH=$path bash scripts/stress.sh "$ROUNDS"
done
