#!/usr/bin/env bash
# The wheel stands alone: build the sdist and the wheel (python -m build), check them with
# twine, then on every supported CPython install the wheel into a clean venv and
#   - with no extras: import faststream_hare and run a hare subscriber in memory; `hare` says
#     in one sentence which extra it needs;
#   - with the cli extra: `hare --help` works.
#
#   bash scripts/wheel.sh                  # 3.10, 3.11, 3.12 and 3.13
#   HARE_PYTHONS="3.12" bash scripts/wheel.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pythons.sh

VERSIONS="${HARE_PYTHONS:-3.10 3.11 3.12 3.13}"
WORK="${TMPDIR:-/tmp}/hare-wheel"
rm -rf "$WORK" dist
mkdir -p "$WORK"

UV="$(uv_bin)"
"$UV" venv -q -p .venv/bin/python "$WORK/tools"
"$UV" pip install -q -p "$WORK/tools/bin/python" build twine
PATH="$(dirname "$UV"):$PATH" "$WORK/tools/bin/python" -m build --installer uv --outdir dist . \
    >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }
"$WORK/tools/bin/twine" check --strict dist/*
wheel="$(ls dist/*.whl)"
log "built $(basename "$wheel") and $(basename "$(ls dist/*.tar.gz)")"

SMOKE='
import asyncio
import logging
from faststream.rabbit import TestRabbitBroker
import faststream_hare
from faststream_hare import HareBroker
from faststream_hare.testing import dead_letters

logging.disable(logging.CRITICAL)  # the failing handler is the point: no traceback wanted
broker = HareBroker(logger=None)

@broker.subscriber("orders", retry_limit=1, delay_in_ms=10)
async def handle(body: str) -> None:
    raise ValueError(body)

async def main() -> None:
    async with TestRabbitBroker(broker, connect_only=False) as test:
        await test.publish("bad", "orders")
        assert len(dead_letters(broker, "orders")) == 1
    print("faststream_hare", faststream_hare.__version__, "works without extras")

asyncio.run(main())
'

for version in $VERSIONS; do
    python="$(interpreter "$version")"
    if [[ -z "$python" ]]; then
        missing "$version"
        continue
    fi
    venv="$WORK/py$version"
    "$UV" venv -q -p "$python" "$venv"
    "$UV" pip install -q -p "$venv/bin/python" "$wheel"
    (cd "$WORK" && "$venv/bin/python" -c "$SMOKE")
    said="$("$venv/bin/hare" --help 2>&1)" && { log "hare ran without the cli extra"; exit 1; }
    [[ "$(wc -l <<<"$said")" -eq 1 && "$said" == *"faststream-hare[cli]"* ]] || {
        log "hare without the cli extra said: $said"; exit 1; }
    "$UV" pip install -q -p "$venv/bin/python" "$wheel[cli]"
    "$venv/bin/hare" --help >/dev/null
    log "CPython $version: the wheel imports alone; hare --help with the cli extra"
done
