"""``cluster_unique=True``: worker ``W<n>`` runs once across processes.

Two brokers (two connections, as two processes would have) ask for the same workers.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import aio_pika
import aiormq.exceptions
import pytest

from faststream_hare import AutoScaling, HareBroker
from tests.support.pools import (
    close_connections,
    make_broker,
    queue_state,
    running,
    wait_state,
)
from tests.support.rabbit_admin import AMQP_URL, RabbitAdmin
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit


def unique_app(
    prefix: str, suffix: str, seen: list[tuple[str, int]], **settings: int
) -> HareBroker:
    broker = make_broker(prefix, suffix, **settings)

    @broker.subscriber(f"{prefix}.jobs", cluster_unique=True)
    async def handle(body: dict[str, int]) -> None:
        seen.append((suffix, body["n"]))

    return broker


async def test_second_process_stands_by_then_takes_over(prefix: str, admin: RabbitAdmin) -> None:
    queue = f"{prefix}.jobs"
    seen: list[tuple[str, int]] = []
    # "a" would come back only after 30 s, so the take-over by "b" is what the test sees.
    first = unique_app(prefix, "a", seen, reconnect_interval_ms=30_000)
    second = unique_app(prefix, "b", seen, reconnect_interval_ms=200)
    async with running(first), running(second):
        pool_a, pool_b = first.consumer_pool(queue), second.consumer_pool(queue)
        assert pool_a.active_consumers() == [f"{queue}.W1"]
        assert pool_b.list_consumers() == [f"{queue}.W1"]
        assert pool_b.active_consumers() == []  # standing by
        state = await wait_state(queue, lambda s: s.consumers >= 1)
        assert state.consumers == 1
        await first.publish({"n": 1}, queue)
        await eventually(lambda: len(seen) == 1)

        await close_connections(admin, f"{prefix}-a")
        await eventually(lambda: pool_b.active_consumers() == [f"{queue}.W1"], timeout=10)
        assert pool_a.active_consumers() == []
        await wait_state(queue, lambda s: s.consumers == 1)
        await second.publish({"n": 2}, queue)
        await eventually(lambda: len(seen) == 2)
    assert seen == [("a", 1), ("b", 2)]


async def test_removing_a_held_worker_hands_it_over(prefix: str) -> None:
    """A clean scale-down releases the lock at once, so a stand-by takes the name."""
    queue = f"{prefix}.jobs"
    seen: list[tuple[str, int]] = []
    first = unique_app(prefix, "a", seen)
    second = unique_app(prefix, "b", seen)
    async with running(first), running(second):
        pool_a, pool_b = first.consumer_pool(queue), second.consumer_pool(queue)
        assert await pool_a.add_consumer() == f"{queue}.W2"
        assert await pool_b.add_consumer() == f"{queue}.W2"
        assert pool_a.active_consumers() == [f"{queue}.W1", f"{queue}.W2"]
        assert pool_b.active_consumers() == []
        await wait_state(queue, lambda s: s.consumers == 2)

        assert await pool_a.remove_consumer() == f"{queue}.W2"
        await eventually(lambda: pool_b.active_consumers() == [f"{queue}.W2"], timeout=10)
        state = await wait_state(queue, lambda s: s.consumers == 2)
        assert state.consumers == 2


async def test_a_lone_holder_takes_its_lock_back_after_a_reconnect(
    prefix: str, admin: RabbitAdmin
) -> None:
    queue = f"{prefix}.jobs"
    seen: list[tuple[str, int]] = []
    broker = unique_app(prefix, "a", seen)
    async with running(broker):
        pool = broker.consumer_pool(queue)
        await close_connections(admin, f"{prefix}-a")
        # (re-attaching on the reconnect event is now faster than a poll could see W1 gone)
        await wait_state(queue, lambda s: s.consumers == 1)
        await eventually(lambda: pool.active_consumers() == [f"{queue}.W1"], timeout=15)
        await broker.publish({"n": 1}, queue)
        await eventually(lambda: seen == [("a", 1)])
        assert (await queue_state(queue)).consumers == 1


async def test_auto_scaled_unique_pools_never_double_a_worker(prefix: str) -> None:
    """Both processes scale to 3 names; each name is consumed once, so the cluster runs 3."""
    queue = f"{prefix}.jobs"
    seen: Counter[int] = Counter()
    scaling = AutoScaling(
        min_consumers=1, max_consumers=3, messages_per_consumer=10, check_interval_ms=100
    )
    brokers = []
    for suffix in ("a", "b"):
        broker = make_broker(prefix, suffix)

        @broker.subscriber(queue, cluster_unique=True, auto_scaling=scaling)
        async def handle(body: dict[str, int]) -> None:
            await asyncio.sleep(0.05)
            seen[body["n"]] += 1

        brokers.append(broker)
    first, second = brokers
    async with running(first), running(second):
        for n in range(120):
            await first.publish({"n": n}, queue)
        most = 0
        while sum(seen.values()) < 120:
            most = max(most, (await queue_state(queue)).consumers)
            await asyncio.sleep(0.05)
        pools = [b.consumer_pool(queue) for b in brokers]
        held = sorted(name for pool in pools for name in pool.active_consumers())
        assert len(held) == len(set(held))
    assert most == 3
    assert sorted(seen) == list(range(120))
    assert set(seen.values()) == {1}


async def test_a_lock_is_released_when_the_worker_stops_after_losing_its_channel(
    prefix: str,
) -> None:
    queue = f"{prefix}.jobs"
    seen: list[tuple[str, int]] = []
    # "a" keeps its connection: only the worker's channel dies, so only a release frees W1.
    first = unique_app(prefix, "a", seen, reconnect_interval_ms=30_000)
    second = unique_app(prefix, "b", seen, reconnect_interval_ms=200)
    async with running(first), running(second):
        pool_a, pool_b = first.consumer_pool(queue), second.consumer_pool(queue)
        assert pool_a.active_consumers() == [f"{queue}.W1"]
        channel = pool_a._workers[1]._channel  # type: ignore[attr-defined]
        assert channel is not None
        await channel.close()  # the worker loses its channel; the connection lives on
        await pool_a.remove_consumer()  # ... and then stops
        # released by the time stop returns (not when the connection closes, much later)
        assert not await lock_exists(f"hare.lock.{queue}.W1")
        await eventually(lambda: pool_b.active_consumers() == [f"{queue}.W1"], timeout=10)
        await second.publish({"n": 1}, queue)
        await eventually(lambda: seen == [("b", 1)])


async def lock_exists(name: str) -> bool:
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        try:
            await channel.declare_queue(name, passive=True)
        except aiormq.exceptions.ChannelNotFoundEntity:
            return False
        return True
    finally:
        await connection.close()
