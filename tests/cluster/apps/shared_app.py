"""A ``faststream run --workers N`` app: N processes consume one quorum queue.

Settings come from the environment (``HARE_MQ_URL``), the queue from
``HARE_CLUSTER_TEST_QUEUE``. Every handled message prints ``HANDLED <pid> <n>``.
"""

from __future__ import annotations

import asyncio
import os
import sys

from faststream import FastStream

from faststream_hare import HareBroker

QUEUE = os.environ.get("HARE_CLUSTER_TEST_QUEUE", "hare_cluster_shared")

broker = HareBroker()
app = FastStream(broker)


@broker.subscriber(QUEUE, queue_type="quorum", retry_limit=1, delay_in_ms=100)
async def job(body: dict[str, int]) -> None:
    await asyncio.sleep(0.01)  # long enough for the broker to spread the work
    # one write per line: the worker processes share one stdout
    sys.stdout.write(f"HANDLED {os.getpid()} {body['n']}\n")
    sys.stdout.flush()
