"""Deduplicating publishers on the real broker, with the in-memory store (exact counts)."""

from __future__ import annotations

import asyncio
from typing import Any

import aio_pika
import pytest

from faststream_hare import HareBroker, HareSettings, PublishResult, Unique
from faststream_hare.dedup import MemoryDedupStore
from tests.support.amqp import drain as drain_messages
from tests.support.pools import running
from tests.support.rabbit_admin import AMQP_URL

pytestmark = pytest.mark.rabbit


def make_broker(prefix: str) -> HareBroker:
    return HareBroker(
        f"{AMQP_URL.rstrip('/')}/?name={prefix}", settings=HareSettings(), logger=None
    )


async def queue_for(
    channel: aio_pika.abc.AbstractChannel, prefix: str, routing_key: str = "order.created"
) -> aio_pika.abc.AbstractQueue:
    await channel.declare_exchange(f"{prefix}.ex", "topic", durable=True)
    queue = await channel.declare_queue(f"{prefix}.{routing_key}", durable=True)
    await queue.bind(f"{prefix}.ex", routing_key)
    return queue


async def drain(queue: aio_pika.abc.AbstractQueue) -> list[bytes]:
    return [message.body for message in await drain_messages(queue)]


async def test_the_same_message_twice_is_published_once(
    prefix: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    broker = make_broker(prefix)
    orders = broker.publisher(
        exchange=f"{prefix}.ex", routing_key="order.created", unique=Unique(period_ms=60_000)
    )
    async with running(broker):
        queue = await queue_for(channel, prefix)
        first = await orders.publish_message({"id": 1, "total": 10})
        second = await orders.publish_message({"total": 10, "id": 1})
        assert await drain(queue) == [b'{"id":1,"total":10}']
    assert (first, second) == (PublishResult.OK, PublishResult.DUPLICATE)


async def test_keys_decide_what_is_a_duplicate(
    prefix: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    broker = make_broker(prefix)
    orders = broker.publisher(
        exchange=f"{prefix}.ex",
        routing_key="order.created",
        unique=Unique(period_ms=60_000, keys=["order_id"]),
    )
    async with running(broker):
        queue = await queue_for(channel, prefix)
        results = [
            await orders.publish_message({"order_id": 1, "note": "a"}),
            await orders.publish_message({"order_id": 2, "note": "a"}),  # other key value
            await orders.publish_message({"order_id": 1, "note": "b"}),  # outside keys
        ]
        bodies = await drain(queue)
    assert results == [PublishResult.OK, PublishResult.OK, PublishResult.DUPLICATE]
    assert bodies == [b'{"order_id":1,"note":"a"}', b'{"order_id":2,"note":"a"}']


async def test_after_the_period_it_is_published_again_and_memory_is_freed(
    prefix: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    broker = make_broker(prefix)
    orders = broker.publisher(
        exchange=f"{prefix}.ex", routing_key="order.created", unique=Unique(period_ms=300)
    )
    async with running(broker):
        queue = await queue_for(channel, prefix)
        assert await orders.publish_message({"id": 1}) is PublishResult.OK
        assert await orders.publish_message({"id": 1}) is PublishResult.DUPLICATE
        await asyncio.sleep(0.35)
        assert await orders.publish_message({"id": 1}) is PublishResult.OK
        store = orders.dedup_store
        assert store is broker.dedup_store
        assert len(store) == 1
        await asyncio.sleep(1.5)  # the broker's store sweeps every second
        assert len(store) == 0, "expired entries are removed from memory, not only ignored"
        assert len(await drain(queue)) == 2


async def test_fifty_concurrent_publishes_of_one_key_publish_once(
    prefix: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    broker = make_broker(prefix)
    orders = broker.publisher(
        exchange=f"{prefix}.ex", routing_key="order.created", unique=Unique(keys=["id"])
    )
    async with running(broker):
        queue = await queue_for(channel, prefix)
        results = await asyncio.gather(
            *(orders.publish_message({"id": 7, "attempt": n}) for n in range(50))
        )
        bodies = await drain(queue)
    assert results.count(PublishResult.OK) == 1
    assert results.count(PublishResult.DUPLICATE) == 49
    assert len(bodies) == 1


async def test_destinations_and_stores_are_isolated(
    prefix: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    broker = make_broker(prefix)
    exchange = f"{prefix}.ex"
    created = broker.publisher(exchange=exchange, routing_key="order.created", unique=Unique())
    again = broker.publisher(exchange=exchange, routing_key="order.created", unique=Unique())
    paid = broker.publisher(exchange=exchange, routing_key="order.paid", unique=Unique())
    own = broker.publisher(
        exchange=exchange, routing_key="order.created", unique=Unique(store=MemoryDedupStore())
    )
    async with running(broker):
        created_q = await queue_for(channel, prefix, "order.created")
        paid_q = await queue_for(channel, prefix, "order.paid")
        message: dict[str, Any] = {"id": 1}
        results = [
            await created.publish_message(message),
            await again.publish_message(message),  # same destination, same store
            await paid.publish_message(message),  # another routing key
            await own.publish_message(message),  # a store of its own
        ]
        counts = (len(await drain(created_q)), len(await drain(paid_q)))
    assert results == [
        PublishResult.OK,
        PublishResult.DUPLICATE,
        PublishResult.OK,
        PublishResult.OK,
    ]
    assert counts == (2, 1)
