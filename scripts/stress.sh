#!/usr/bin/env bash
# Stress run (not part of the default test run): the auto-scaled pool and a named stream consumer
# under link cuts, N rounds each (50 by default): no hang, every stop() within its bound, lost=0.
#   bash scripts/stress.sh        # 50 rounds each
#   bash scripts/stress.sh 3      # CI: a few rounds
set -euo pipefail
cd "$(dirname "$0")/.."
export HARE_STRESS_RUNS="${1:-50}"
# each round has bounds of its own (60 s to settle, 20 s to stop); the test's is their sum
exec .venv/bin/pytest tests/stress -p no:cacheprovider -q -s \
    --timeout=$((HARE_STRESS_RUNS * 90 + 60)) "${@:2}"
