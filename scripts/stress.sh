#!/usr/bin/env bash
# Stress run (not part of the default test run): the auto-scaled pool and a named stream consumer
# under link cuts, N rounds each (50 by default): no hang, every stop() within its bound, lost=0.
#   bash scripts/stress.sh        # 50 rounds each
#   bash scripts/stress.sh 3      # CI: a few rounds
set -euo pipefail
cd "$(dirname "$0")/.."
export HARE_STRESS_RUNS="${1:-50}"
exec .venv/bin/pytest tests/stress -p no:cacheprovider -q -s "${@:2}"
