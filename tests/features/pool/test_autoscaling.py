"""The auto-scaler on a real broker: depth-driven scale up and down, errors keep the size."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import aio_pika
import pytest

from faststream_hare import AutoScaling, signals
from faststream_hare.topology.declare import declare_plan
from tests.support.pools import make_broker, running, wait_state
from tests.support.rabbit_admin import AMQP_URL
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit

FAST = {"min_consumers": 1, "max_consumers": 5, "messages_per_consumer": 10}


async def test_backlog_scales_up_to_max_then_back_to_min(prefix: str) -> None:
    queue = f"{prefix}.jobs"
    broker = make_broker(prefix)
    seen: Counter[int] = Counter()
    scaled: list[dict[str, Any]] = []

    def on_scaled(
        sender: object, *, measurements: dict[str, Any], metadata: dict[str, Any]
    ) -> None:
        scaled.append(metadata)

    @broker.subscriber(queue, auto_scaling=AutoScaling(**FAST, check_interval_ms=100))
    async def handle(body: dict[str, int]) -> None:
        await asyncio.sleep(0.15)
        seen[body["n"]] += 1

    signals.auto_scaler_scaled.connect(on_scaled)
    try:
        async with running(broker):
            pool = broker.consumer_pool(queue)
            assert pool.size == 1
            sizes: list[int] = []
            for n in range(45):
                await broker.publish({"n": n}, queue)

            async def watch() -> None:
                while True:
                    sizes.append(pool.size)
                    await asyncio.sleep(0.02)

            watcher = asyncio.create_task(watch())
            await eventually(lambda: pool.size == 5, timeout=10)
            await eventually(lambda: sum(seen.values()) >= 45, timeout=20)
            await eventually(lambda: pool.size == 1, timeout=10)
            watcher.cancel()
            await wait_state(queue, lambda s: s.ready == 0 and s.consumers == 1)
            await asyncio.sleep(0.3)  # a redelivered message would show up here
    finally:
        signals.auto_scaler_scaled.disconnect(on_scaled)
    assert sorted(seen) == list(range(45))
    assert set(seen.values()) == {1}, "every message is processed exactly once"
    assert max(sizes) == 5
    mine = [m for m in scaled if m["queue"] == queue]
    assert (mine[0]["from"], mine[0]["depth"] > 10) == (1, True)
    assert any(m["to"] == 5 for m in mine)
    assert mine[-1]["to"] == 1
    assert all(set(m) == {"queue", "from", "to", "depth"} for m in mine)


async def test_unreadable_depth_keeps_the_pool_and_other_channels(prefix: str) -> None:
    """Deleting the queue makes every depth read fail: the pool stays at 5 (HareMq would
    count 0 and shrink to min) and another subscriber of the same broker keeps working."""
    queue, other = f"{prefix}.jobs", f"{prefix}.other"
    broker = make_broker(prefix, shutdown_drain_timeout_ms=200, reconnect_interval_ms=200)
    release = asyncio.Event()
    later: list[int] = []
    others: list[int] = []

    @broker.subscriber(queue, auto_scaling=AutoScaling(**FAST, check_interval_ms=100))
    async def handle(body: dict[str, int]) -> None:
        if body["n"] >= 1000:
            later.append(body["n"])
            return
        await release.wait()

    @broker.subscriber(other, hare=True)
    async def handle_other(body: dict[str, int]) -> None:
        others.append(body["n"])

    async with running(broker):
        pool = broker.consumer_pool(queue)
        scaler = pool.autoscaler
        assert scaler is not None
        for n in range(50):  # 5 held by the workers, 45 ready: target stays 5
            await broker.publish({"n": n}, queue)
        await eventually(lambda: pool.size == 5, timeout=10)

        await _delete_queue(queue)
        failed = scaler.failed_checks
        await eventually(lambda: scaler.failed_checks >= failed + 5, timeout=10)
        assert pool.size == 5
        await broker.publish({"n": 7}, other)
        await eventually(lambda: others == [7])

        subscriber = broker.hare_subscriber(queue)
        await declare_plan(await broker.connect(), subscriber.plan(broker.active_settings))
        await eventually(lambda: pool.size == 1, timeout=15)
        await eventually(lambda: pool.active_consumers() == [f"{queue}.W1"], timeout=10)
        release.set()
        for n in range(1000, 1003):
            await broker.publish({"n": n}, queue)
        await eventually(lambda: sorted(later) == [1000, 1001, 1002])
        await wait_state(queue, lambda s: s.ready == 0 and s.consumers == 1)


async def _delete_queue(name: str) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        await channel.queue_delete(name)
    finally:
        await connection.close()
