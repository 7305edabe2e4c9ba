#!/usr/bin/env bash
# Dependency ranges tested at both ends: one venv with the lowest release each pin of
# pyproject.toml allows (uv's --resolution lowest-direct: faststream, aio-pika/aiormq, rstream,
# pydantic-settings, blinker, redis and the other extras at their floor) and one with the
# newest; the unit, in-memory and broker-facing core tests run in each, on the main venv's
# Python, or on the CPython HARE_PYTHON names (found as scripts/pythons.sh finds it: pyenv, or
# python3.X on PATH; missing, it fails in CI and is skipped elsewhere). The installed versions
# of the direct dependencies are printed first.
#
#   bash scripts/ranges.sh              # lowest, then newest
#   HARE_RANGES=lowest bash scripts/ranges.sh -x   # one end; extra arguments go to pytest
#   HARE_PYTHON=3.10 HARE_RANGES=lowest bash scripts/ranges.sh   # the floors on 3.10's stack
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pythons.sh

ENDS="${HARE_RANGES:-lowest newest}"
DIRECT=(faststream aio-pika aiormq rstream pydantic-settings blinker redis rich starlette
    prometheus-client opentelemetry-api fastapi)
UV="$(uv_bin)"
if [[ -n "${HARE_PYTHON:-}" ]]; then
    python="$(interpreter "$HARE_PYTHON")"
    if [[ -z "$python" ]]; then
        missing "$HARE_PYTHON"
        exit 0
    fi
    suffix="-py$HARE_PYTHON"
else
    python="$(.venv/bin/python -c 'import sys; print(sys.executable)')"
    suffix=""
fi
failed=()
for end in $ENDS; do
    venv=".venvs/range-$end$suffix"
    rm -rf "$venv"
    "$UV" venv -q -p "$python" "$venv"
    resolution=highest
    [[ $end == lowest ]] && resolution=lowest-direct
    "$UV" pip install -q -p "$venv/bin/python" --resolution "$resolution" -e ".[$TEST_EXTRAS]"
    "$UV" pip install -q -p "$venv/bin/python" "${TEST_TOOLS[@]}"  # the tools: any release
    versions="$("$UV" pip list -p "$venv/bin/python" 2>/dev/null \
        | awk -v want=" ${DIRECT[*]} " 'index(want, " " $1 " ") {printf "%s %s, ", $1, $2}')"
    log "$end, CPython $("$venv/bin/python" -c 'import platform; print(platform.python_version())'): ${versions%, }"
    if ! "$venv/bin/python" -m pytest -q -p no:cacheprovider "${CORE_TESTS[@]}" "$@"; then
        failed+=("$end")
    fi
done
if (( ${#failed[@]} )); then
    log "failed with the $(IFS=,; echo "${failed[*]}") versions"
    exit 1
fi
