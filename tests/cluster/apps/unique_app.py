"""A ``faststream run`` app with one ``cluster_unique`` worker, for the fail-over test.

Settings come from the environment (``HARE_MQ_URL``, ``HARE_MQ_RECONNECT_INTERVAL_MS``), the
queue from ``HARE_CLUSTER_TEST_QUEUE``. It prints ``HELD <workers>`` whenever the workers this
process holds change, and ``HANDLED <n>`` for every message.
"""

from __future__ import annotations

import asyncio
import os

from faststream import FastStream

from faststream_hare import HareBroker

QUEUE = os.environ.get("HARE_CLUSTER_TEST_QUEUE", "hare_cluster_unique")

broker = HareBroker()
app = FastStream(broker)
_tasks: list[asyncio.Task[None]] = []


@broker.subscriber(QUEUE, cluster_unique=True)
async def job(body: dict[str, int]) -> None:
    print(f"HANDLED {body['n']}", flush=True)


async def _print_held() -> None:
    pool = broker.consumer_pool(QUEUE)
    last: list[str] | None = None
    while True:
        held = pool.active_consumers()
        if held != last:
            print(f"HELD {','.join(held)}", flush=True)
            last = held
        await asyncio.sleep(0.05)


@app.after_startup
async def watch() -> None:
    _tasks.append(asyncio.create_task(_print_held()))


@app.on_shutdown
async def stop_watching() -> None:
    for task in _tasks:
        task.cancel()
