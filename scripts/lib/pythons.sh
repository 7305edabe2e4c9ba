# Shared by scripts/pythons.sh, scripts/wheel.sh and scripts/ranges.sh (sourced, not run):
# finding each supported CPython, and uv (from PyPI) to make venvs fast.

#: The core of the suite: the unit tests, and the scenarios of tests/features that run in memory
#: and on RabbitMQ (with some broker-only files beside them).
CORE_TESTS=(
    tests/unit
    tests/features/retry/test_retry.py
    tests/features/retry/test_retry_logs.py
    tests/features/retry/test_retry_policies.py
    tests/features/retry/test_loss_paths.py
    tests/features/retry/test_retry_decision.py
    tests/features/retry/test_retry_policy_units.py
    tests/features/retry/test_delivery_limit_units.py
    tests/features/pool/test_pool.py
    tests/features/pool/test_autoscaling_policy.py
    tests/features/idempotency/test_idempotency.py
    tests/features/idempotency/test_idempotency_units.py
    tests/features/streams
    tests/features/publish/test_publish.py
    tests/features/publish/test_publish_many.py
    tests/features/publish/test_publish_encoding.py
    tests/features/publish/test_dedup_keys.py
    tests/features/publish/test_dedup_memory.py
    tests/features/publish/test_dedup_batch.py
    tests/features/publish/test_dedup_redis.py
    tests/features/publish/test_dedup_redis_connections.py  # RESP2/RESP3 at redis-py's floor too
    tests/features/topology/test_topology.py
    tests/features/topology/test_topology_plan.py
    tests/features/telemetry/test_telemetry_otel.py
    tests/features/telemetry/test_telemetry_prometheus.py
    tests/features/ops/test_cli.py
    tests/features/ops/test_console_access.py
    tests/features/ops/test_ops_doctor_rules.py
    tests/features/ops/test_ops_records.py
    tests/features/ops/test_ops_selection.py
    tests/features/outbox/test_outbox.py
    tests/features/outbox/test_inbox.py
    tests/features/outbox/test_outbox_units.py
    tests/features/internals/test_faststream_parity.py
    tests/features/internals/test_aiormq_frames.py
    tests/features/internals/test_stream_messages.py
)
#: What 3.12 and 3.13 run against the real services (their rabbit-marked tests) besides the
#: core's unit and in-memory tests.
BROKER_CORE_TESTS=(
    tests/features/retry/test_retry.py
    tests/features/publish/test_publish.py
    tests/features/pool/test_pool.py
    tests/features/streams/test_streams.py
)
#: The extras the core tests import, and the tools that run them.
TEST_EXTRAS="cli,redis,console,prometheus,otel,fastapi,outbox"
TEST_TOOLS=(pytest pytest-asyncio pytest-timeout httpx trustme)

log() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }

interpreter() {  # the newest installed CPython $1 (e.g. 3.12), or nothing
    local version="$1" found=""
    if command -v pyenv >/dev/null 2>&1; then
        found="$(ls -d "$(pyenv root)/versions/$version".*/bin/python 2>/dev/null | sort -V | tail -1)"
    fi
    if [[ -z "$found" ]] && command -v "python$version" >/dev/null 2>&1; then
        found="$(command -v "python$version")"
    fi
    echo "$found"
}

missing() {  # CPython $1 is not installed: an error in CI, a one-line skip elsewhere
    if [[ "${CI:-}" == "true" ]]; then
        log "CPython $1 is not installed (pyenv install $1)"
        exit 1
    fi
    log "CPython $1 is not installed: skipped (pyenv install $1 to run it)"
}

uv_bin() {  # uv in the main venv (bash scripts/venv.sh makes it)
    if [[ ! -x .venv/bin/uv ]]; then
        .venv/bin/python -m pip install -q uv >/dev/null
    fi
    echo "$PWD/.venv/bin/uv"
}
export UV_PYTHON_DOWNLOADS=never  # only the interpreters installed here
