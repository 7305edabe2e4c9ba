"""Pool workers on the real broker: each on its own channel, drained or requeued on scale-down
and stop, back after a lost connection (tests/features/pool/test_pool.py: both transports)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from faststream.rabbit import RabbitMessage

from tests.support.amqp import depth
from tests.support.pools import close_connections, make_broker, running, wait_state
from tests.support.rabbit_admin import RabbitAdmin
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit


async def test_consumer_count_three_spreads_messages(prefix: str) -> None:
    queue = f"{prefix}.jobs"
    broker = make_broker(prefix)
    channels: Counter[int] = Counter()
    seen: list[int] = []

    @broker.subscriber(queue, consumer_count=3)
    async def handle(body: dict[str, int], message: RabbitMessage) -> None:
        channels[message.raw_message.channel.number] += 1
        await asyncio.sleep(0.05)
        seen.append(body["n"])

    async with running(broker):
        pool = broker.consumer_pool(queue)
        assert pool.size == 3
        assert pool.list_consumers() == [f"{queue}.W1", f"{queue}.W2", f"{queue}.W3"]
        await wait_state(queue, lambda s: s.consumers == 3)
        for n in range(30):
            await broker.publish({"n": n}, queue)
        await eventually(lambda: len(seen) == 30)
    assert sorted(seen) == list(range(30))
    assert len(channels) == 3, channels
    assert all(count >= 3 for count in channels.values()), channels


async def test_scale_down_drains_busy_workers_exactly_once(prefix: str) -> None:
    """Handlers that finish within the drain cap are acked: nothing is lost or repeated."""
    queue = f"{prefix}.jobs"
    broker = make_broker(prefix)
    seen: Counter[int] = Counter()
    busy: set[int] = set()

    @broker.subscriber(queue, consumer_count=3, prefetch_count=2)
    async def handle(body: dict[str, int], message: RabbitMessage) -> None:
        busy.add(message.raw_message.channel.number)
        await asyncio.sleep(0.3)
        seen[body["n"]] += 1

    async with running(broker):
        pool = broker.consumer_pool(queue)
        for n in range(24):
            await broker.publish({"n": n}, queue)
        await eventually(lambda: len(busy) == 3)  # every worker has handlers in flight
        assert await pool.remove_consumer() == f"{queue}.W3"
        assert await pool.remove_consumer() == f"{queue}.W2"
        await eventually(lambda: sum(seen.values()) >= 24)
        await wait_state(queue, lambda s: s.ready == 0 and s.consumers == 1)
        await asyncio.sleep(0.3)  # a redelivery would show up here
    assert sorted(seen) == list(range(24))
    assert set(seen.values()) == {1}, seen


async def test_scale_down_past_the_drain_cap_requeues(prefix: str) -> None:
    """A handler stuck past ``shutdown_drain_timeout_ms`` loses its worker's channel: the broker
    requeues its messages, so only what the remaining worker holds stays unacked."""
    queue = f"{prefix}.jobs"
    broker = make_broker(prefix, shutdown_drain_timeout_ms=200)
    release = asyncio.Event()
    seen: Counter[int] = Counter()

    @broker.subscriber(queue, consumer_count=3, prefetch_count=2)
    async def handle(body: dict[str, int]) -> None:
        await release.wait()
        seen[body["n"]] += 1

    async with running(broker):
        pool = broker.consumer_pool(queue)
        for n in range(10):
            await broker.publish({"n": n}, queue)
        await wait_state(queue, lambda s: s.ready == 4)  # 3 workers x prefetch 2 unacked
        await pool.remove_consumer()
        await pool.remove_consumer()
        assert pool.list_consumers() == [f"{queue}.W1"]
        # 10 messages, none acked: 8 ready means exactly W1's 2 are unacked.
        await wait_state(queue, lambda s: s.ready == 8 and s.consumers == 1)
        release.set()
        await eventually(lambda: set(range(10)) <= set(seen))
        await wait_state(queue, lambda s: s.ready == 0)
    assert set(seen) == set(range(10))


async def test_stop_returns_unfinished_messages_to_the_queue(prefix: str) -> None:
    queue = f"{prefix}.jobs"
    # graceful_timeout: FastStream's own wait for handlers once the pool has drained
    broker = make_broker(prefix, shutdown_drain_timeout_ms=100, graceful_timeout=0.3)
    never = asyncio.Event()

    @broker.subscriber(queue, consumer_count=2, prefetch_count=3)
    async def handle(body: dict[str, int]) -> None:
        await never.wait()

    async with running(broker):
        for n in range(8):
            await broker.publish({"n": n}, queue)
        await wait_state(queue, lambda s: s.ready == 2)
    state = await wait_state(queue, lambda s: s.ready == 8)
    assert state.consumers == 0


async def test_workers_survive_a_lost_connection(prefix: str, admin: RabbitAdmin) -> None:
    queue = f"{prefix}.jobs"
    broker = make_broker(prefix)
    seen: list[int] = []

    @broker.subscriber(queue, consumer_count=2)
    async def handle(body: dict[str, int]) -> None:
        seen.append(body["n"])

    async with running(broker):
        pool = broker.consumer_pool(queue)
        await close_connections(admin, prefix)
        # (workers re-attach on the reconnect event: faster than a poll could see them gone)
        await eventually(lambda: len(pool.active_consumers()) == 2, timeout=20)
        await wait_state(queue, lambda s: s.consumers == 2)
        for n in range(10):
            await broker.publish({"n": n}, queue)
        await eventually(lambda: len(seen) == 10)
    assert sorted(seen) == list(range(10))
    assert await depth(queue) == 0
