#!/usr/bin/env bash
# Set up everything and run the quickstart app against the local broker (Ctrl+C to stop).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-services.sh
bash scripts/venv.sh
exec .venv/bin/faststream run examples.quickstart:app "$@"
