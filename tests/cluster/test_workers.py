"""``faststream run app:app --workers 3`` on the cluster: three processes share one queue."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter

import aio_pika
import pytest

from faststream_hare import HareBroker
from tests.cluster.cluster import Cluster
from tests.cluster.processes import Process
from tests.support.amqp import consumers

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]

WORKERS = 3
COUNT = 300


_HANDLED = re.compile(r"HANDLED (\d+) (\d+)")


def handled(process: Process) -> Counter[tuple[str, int]]:
    """``(pid, n)`` of every ``HANDLED`` line so far."""
    return Counter((pid, int(n)) for pid, n in _HANDLED.findall(process.output))


async def test_three_worker_processes_share_one_quorum_queue(
    cluster: Cluster, cprefix: str
) -> None:
    queue = f"{cprefix}.jobs"
    app = Process.faststream(
        "tests.cluster.apps.shared_app:app",
        env={"HARE_MQ_URL": cluster.url(f"{cprefix}-app"), "HARE_CLUSTER_TEST_QUEUE": queue},
        extra=["--workers", str(WORKERS)],
    )
    sender = HareBroker(cluster.url(f"{cprefix}-sender"), logger=None)
    try:
        deadline = time.monotonic() + 90
        while True:  # every worker process consumes before anything is published
            try:
                if await consumers(cluster.amqp_url, queue) == WORKERS:
                    break
            except aio_pika.exceptions.ChannelNotFoundEntity:
                pass  # not declared yet
            assert app.running, app.output[-3000:]
            assert time.monotonic() < deadline, f"never {WORKERS} consumers:\n{app.output[-3000:]}"
            await asyncio.sleep(0.2)
        await sender.start()
        for n in range(COUNT):
            await sender.publish({"n": n}, queue)
        await app.wait_for(lambda: len(handled(app)) >= COUNT, "every message handled", 90)
    finally:
        await sender.stop()
        app.stop()
    seen = handled(app)
    assert sorted(n for _, n in seen) == list(range(COUNT))  # each exactly once
    per_process = Counter(pid for pid, _ in seen)
    print(f"\nmessages per worker process: {sorted(per_process.values())}")
    assert len(per_process) == WORKERS
