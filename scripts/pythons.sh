#!/usr/bin/env bash
# Run the core of the suite on every supported CPython other than the main venv's: one venv per
# version under .venvs/ (made once, then reused). CPython 3.10 has a dependency stack of its own
# (aio-pika 9.6, aiormq 6.9) and runs the whole core; 3.12 and 3.13 share the main run's stack
# and run the unit and in-memory tests and a broker-facing core (retry, publishing, pools,
# streams) against the real services.
#
#   bash scripts/pythons.sh                 # 3.10, 3.12 and 3.13
#   HARE_PYTHONS="3.10" bash scripts/pythons.sh -x   # one version; extra arguments go to pytest
#
# The interpreters come from pyenv (`pyenv root`/versions/3.X.*) or from python3.X on PATH. A
# version that cannot be found is an error in CI (CI=true) and a one-line skip elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pythons.sh

VERSIONS="${HARE_PYTHONS:-3.10 3.12 3.13}"
failed=()
UV="$(uv_bin)"
for version in $VERSIONS; do
    python="$(interpreter "$version")"
    if [[ -z "$python" ]]; then
        missing "$version"
        continue
    fi
    venv=".venvs/py$version"
    if [[ ! -x "$venv/bin/python" ]]; then
        "$UV" venv -q -p "$python" "$venv"
    fi
    # editable install, refreshed every run: cheap when nothing changed
    "$UV" pip install -q -p "$venv/bin/python" -e ".[$TEST_EXTRAS]" "${TEST_TOOLS[@]}"
    log "CPython $("$venv/bin/python" -c 'import platform; print(platform.python_version())')"
    if [[ $version == 3.10 ]]; then  # its own stack (aio-pika 9.6, aiormq 6.9): the whole core
        "$venv/bin/python" -m pytest -q -p no:cacheprovider "${CORE_TESTS[@]}" "$@" ||
            failed+=("$version")
    else  # the main run's stack on another interpreter: unit, in memory, and the broker core
        { "$venv/bin/python" -m pytest -q -p no:cacheprovider -m "not rabbit" "${CORE_TESTS[@]}" "$@" &&
            "$venv/bin/python" -m pytest -q -p no:cacheprovider -m rabbit "${BROKER_CORE_TESTS[@]}" "$@"; } ||
            failed+=("$version")
    fi
done
if (( ${#failed[@]} )); then
    log "failed on CPython ${failed[*]}"
    exit 1
fi
