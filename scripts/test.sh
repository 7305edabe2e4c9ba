#!/usr/bin/env bash
# Set up everything and run the whole check: ruff, mypy --strict and mkdocs --strict once, then
# every test on each RabbitMQ under test. CI (.ci/run) runs exactly this.
#
#   bash scripts/test.sh [PYTEST ARGS]          the machine's broker, then RabbitMQ 4.0 beside it
#   HARE_RABBITMQ=system bash scripts/test.sh   only the machine's broker (5672, 5552, 15672)
#   HARE_RABBITMQ=4.0 bash scripts/test.sh      only RabbitMQ 4.0 (5673, 5553, 15673)
#
# A broker's run fails the script at the end; the other broker's run still happens.
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a BROKERS <<<"${HARE_RABBITMQ:-system 4.0}"
for broker in "${BROKERS[@]}"; do
    HARE_RABBITMQ=$broker bash scripts/setup-services.sh
done
bash scripts/setup-browser.sh          # Debian's Chromium for tests/browser (console)
# the real Elixir HareMq for tests/interop; without its sources (a fresh clone) those tests skip
elixir=0; bash scripts/setup-elixir.sh >/dev/null || elixir=$?  # prints why when it skips
if [[ $elixir -ne 0 && ( $elixir -ne 4 || "${CI:-}" == "true" ) ]]; then exit "$elixir"; fi
bash scripts/venv.sh
echo "[test] ruff";   .venv/bin/ruff check faststream_hare tests examples benchmarks
echo "[test] ruff format"; .venv/bin/ruff format --check faststream_hare tests examples benchmarks
echo "[test] mypy";   .venv/bin/mypy
echo "[test] mkdocs"; NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet --site-dir "${TMPDIR:-/tmp}/hare-site"

FAILED=()
# run_pytest BROKER [PYTEST ARGS]: the tests find the broker through HARE_RABBITMQ (see
# tests/support/broker.py), its CLI tools (rabbitmqctl, …) first in PATH.
run_pytest() {
    local broker=$1 label="RabbitMQ $1" path=$PATH code=0
    shift
    if [[ $broker == 4.0 ]]; then
        path="$(bash scripts/rabbitmq4.sh bin):$PATH"
    fi
    echo "[test] pytest: $label"
    HARE_RABBITMQ=$broker PATH=$path .venv/bin/pytest "$@" || code=$?
    if ((code == 5)) && (($# > 0)); then  # the arguments selected no test of this run
        echo "[test] $label: no tests selected"
    elif ((code != 0)); then
        FAILED+=("$label (exit $code)")
    fi
}

for broker in "${BROKERS[@]}"; do
    run_pytest "$broker" "$@"
done

if ((${#FAILED[@]} > 0)); then
    echo "[test] FAILED: ${FAILED[*]}"
    exit 1
fi
echo "[test] all green on: ${BROKERS[*]}"
