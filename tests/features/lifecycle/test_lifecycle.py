"""Shutdown and reconnect move no message into the void (counted, not eyeballed)."""

from __future__ import annotations

import asyncio

import pytest
from faststream.rabbit.annotations import RabbitMessage

from faststream_hare import HareBroker, HareSettings, signals
from tests.support.amqp import depth, wait_depth
from tests.support.rabbit_admin import RabbitAdmin
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit


async def test_stop_while_busy_loses_nothing(prefix: str, broker_url: str) -> None:
    queue = f"{prefix}.busy"
    broker = HareBroker(broker_url, graceful_timeout=5)
    done: list[int] = []

    @broker.subscriber(queue, prefetch_count=5, retry_limit=1, delay_in_ms=100)
    async def handle(body: int) -> None:
        await asyncio.sleep(0.1)
        done.append(body)

    async with broker:
        await broker.start()
        for n in range(60):
            await broker.publish(n, queue=queue)
        await eventually(lambda: len(done) >= 10)
    # stopped: in-flight handlers finished, everything else is back in the queue, ready
    await asyncio.sleep(0.3)
    left = await depth(queue)
    assert len(set(done)) == len(done)
    assert len(done) + left == 60

    # a second run processes exactly the rest
    again = HareBroker(broker_url)
    rest: list[int] = []
    again.subscriber(queue, prefetch_count=5, retry_limit=1, delay_in_ms=100)(_collector(rest))
    async with again:
        await again.start()
        await eventually(lambda: len(rest) == left)
    assert sorted(done + rest) == list(range(60))


def _collector(into: list[int]):
    async def collect(body: int) -> None:
        into.append(body)

    return collect


async def test_reconnect_keeps_consuming_and_retrying(
    prefix: str, broker_url: str, admin: RabbitAdmin
) -> None:
    queue = f"{prefix}.reconnect"
    broker = HareBroker(broker_url, settings=HareSettings(reconnect_interval_ms=300))
    processed: set[int] = set()
    attempts: dict[int, int] = {}
    reconnected = asyncio.Event()
    connections = 0

    def on_connected(sender: object, measurements: dict, metadata: dict) -> None:
        nonlocal connections
        connections += 1
        if connections > 1:
            reconnected.set()

    signals.connection_connected.connect(on_connected, sender=broker)

    @broker.subscriber(queue, prefetch_count=4, retry_limit=2, delay_in_ms=50)
    async def handle(body: int, message: RabbitMessage) -> None:
        attempts[body] = attempts.get(body, 0) + 1
        await asyncio.sleep(0.01)
        if body % 5 == 0 and not message.headers.get("retry_count"):
            raise RuntimeError("fails once")
        processed.add(body)

    try:
        async with broker:
            await broker.start()
            for n in range(40):
                await broker.publish(n, queue=queue)
            await eventually(lambda: len(processed) >= 10)
            await eventually(lambda: bool(admin.connections(prefix)))
            admin.close_connections(prefix)
            await asyncio.wait_for(reconnected.wait(), 15)
            for n in range(40, 80):
                await broker.publish(n, queue=queue)
            await eventually(lambda: len(processed) == 80, timeout=30)
            await wait_depth(f"{queue}.dead", 0)
    finally:
        signals.connection_connected.disconnect(on_connected)

    assert processed == set(range(80))  # nothing lost across the reconnect
    assert all(attempts[n] >= 2 for n in range(0, 80, 5))  # retries worked before and after


async def test_stop_while_the_connection_is_down_loses_nothing(
    prefix: str, broker_url: str, admin: RabbitAdmin
) -> None:
    queue = f"{prefix}.downstop"
    broker = HareBroker(broker_url, settings=HareSettings(reconnect_interval_ms=30_000))
    done: list[int] = []
    release = asyncio.Event()

    @broker.subscriber(queue, prefetch_count=3, retry_limit=1, delay_in_ms=100)
    async def handle(body: int) -> None:
        await asyncio.wait_for(release.wait(), 5)
        done.append(body)

    await broker.start()
    for n in range(10):
        await broker.publish(n, queue=queue)
    await eventually(lambda: bool(admin.connections(prefix)))
    admin.close_connections(prefix)  # the link drops while 3 handlers hold messages
    await asyncio.sleep(0.3)
    release.set()
    await broker.stop()  # no exception although the consumer cannot be cancelled

    await wait_depth(queue, 10 - len(done))  # whatever was not acked is back, ready
    assert len(set(done)) == len(done)
