#!/usr/bin/env bash
# Set up everything and run the whole check: ruff, mypy --strict, mkdocs --strict, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-services.sh
bash scripts/setup-browser.sh          # Debian's Chromium for tests/browser (console)
bash scripts/setup-elixir.sh >/dev/null  # the real Elixir HareMq for tests/interop
bash scripts/venv.sh
echo "[test] ruff";   .venv/bin/ruff check faststream_hare tests examples benchmarks
echo "[test] ruff format"; .venv/bin/ruff format --check faststream_hare tests examples benchmarks
echo "[test] mypy";   .venv/bin/mypy
echo "[test] mkdocs"; NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet --site-dir "${TMPDIR:-/tmp}/hare-site"
echo "[test] pytest"; .venv/bin/pytest "$@"
