"""examples/scaling_out.py with ``faststream run --workers 3`` on the cluster."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.cluster.cluster import Cluster
from tests.cluster.processes import Process
from tests.support.amqp import consumers
from tests.support.rabbit_admin import REDIS_URL

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]

WORKERS = 3
ORDERS = 30
_HANDLED = re.compile(r"order \d+-(\d+) handled by process (\d+)")
_PLACED = re.compile(r"process \d+ placed (\d+) orders")


@pytest.fixture
def clean_demo(cluster: Cluster) -> Iterator[None]:
    cluster.delete_prefix("hare_demo.out")
    yield
    cluster.delete_prefix("hare_demo.out")


@pytest.mark.usefixtures("clean_demo")
async def test_three_processes_place_each_order_once_and_share_the_work(cluster: Cluster) -> None:
    batch = f"{time.time_ns()}"  # new order ids: an earlier run's are still in Redis for an hour
    app = Process.faststream(
        "examples.scaling_out:app",
        env={
            "HARE_MQ_URL": cluster.url(f"hare_demo.out-{batch}"),
            "HARE_MQ_STREAM_URL": cluster.stream_url,
            "HARE_MQ_DEDUP_URL": REDIS_URL,
            "HARE_DEMO_BATCH": batch,
            "HARE_DEMO_ORDERS": str(ORDERS),
        },
        extra=["--workers", str(WORKERS)],
    )
    try:
        await app.wait_for(
            lambda: len(_PLACED.findall(app.output)) == WORKERS, "every process placed", 90
        )
        await app.wait_for(
            lambda: len(set(_HANDLED.findall(app.output))) >= ORDERS, "every order handled", 60
        )
        held = await consumers(cluster.amqp_url, "hare_demo.out.reports")
    finally:
        app.stop()
    handled = Counter(int(order) for order, _ in _HANDLED.findall(app.output))
    assert sorted(handled) == list(range(ORDERS))
    assert set(handled.values()) == {1}  # placed once across processes, handled once
    assert sum(int(n) for n in _PLACED.findall(app.output)) == ORDERS
    assert held == 1  # W1 of the cluster-unique reports queue runs in one process only
