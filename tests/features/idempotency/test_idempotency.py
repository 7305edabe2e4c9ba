"""Idempotent consumers, in memory and on RabbitMQ, with the in-memory store and with Redis.

The processes and outages that only RabbitMQ and Redis have are in ``test_idempotency_redis.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from faststream.rabbit.annotations import RabbitMessage

from faststream_hare import Idempotency, MemoryIdempotencyStore, RedisIdempotencyStore
from faststream_hare.idempotency import IdempotencyStore
from tests.support.rabbit_admin import REDIS_URL
from tests.support.transport import Transport
from tests.support.waiting import eventually


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[IdempotencyStore]:
    """Where the consumer keeps what it handled: this process, or Redis."""
    if request.param == "memory":
        yield MemoryIdempotencyStore()
        return
    redis = RedisIdempotencyStore(REDIS_URL, name=f"t{uuid.uuid4().hex[:8]}")
    yield redis
    await redis.clear()
    await redis.aclose()


async def test_the_same_message_id_twice_runs_the_handler_once(
    transport: Transport, store: IdempotencyStore, duplicates: list[dict[str, Any]]
) -> None:
    queue = transport.queue("orders")
    broker = transport.broker()
    handled: list[str] = []

    @broker.subscriber(queue, idempotent=Idempotency(period_ms=60_000, store=store))
    async def handle(body: str) -> None:
        handled.append(body)

    async with transport.running(broker):
        await broker.publish("a", queue=queue, message_id="m-1")
        await broker.publish("a again", queue=queue, message_id="m-1")
        await broker.publish("b", queue=queue, message_id="m-2")
        await eventually(lambda: len(handled) + len(duplicates) == 3)
        await transport.assert_empty(queue)

    assert handled == ["a", "b"]
    assert [(d["queue"], d["message_id"]) for d in duplicates] == [(queue, "m-1")]


async def test_keys_make_the_body_fields_the_identity(transport: Transport) -> None:
    queue = transport.queue("orders")
    broker = transport.broker()
    handled: list[dict[str, int]] = []

    @broker.subscriber(queue, idempotent=Idempotency(60_000, keys=["order_id"]))
    async def handle(order: dict[str, int]) -> None:
        handled.append(order)

    async with transport.running(broker):
        await broker.publish({"order_id": 1, "v": 1}, queue=queue, message_id="a")
        await broker.publish({"order_id": 1, "v": 2}, queue=queue, message_id="b")
        await broker.publish({"order_id": 2, "v": 1}, queue=queue, message_id="c")
        await eventually(lambda: len(handled) == 2)
        await transport.quiet()
        await transport.assert_empty(queue)

    assert handled == [{"order_id": 1, "v": 1}, {"order_id": 2, "v": 1}]


async def test_a_failure_releases_the_key_so_the_retry_runs_the_handler(
    transport: Transport, store: IdempotencyStore
) -> None:
    queue = transport.queue("flaky")
    broker = transport.broker()
    calls: list[int | None] = []

    @broker.subscriber(
        queue, retry_limit=2, delay_in_ms=50, idempotent=Idempotency(60_000, store=store)
    )
    async def handle(body: str, message: RabbitMessage) -> None:
        calls.append(message.headers.get("retry_count"))
        if len(calls) == 1:
            raise ConnectionError("down")

    async with transport.running(broker):
        await broker.publish("x", queue=queue, message_id="f-1")
        await eventually(lambda: len(calls) == 2)
        await broker.publish("x", queue=queue, message_id="f-1")  # done now: acked, not run
        await transport.quiet()
        assert await transport.dead(broker, queue) == []
        await transport.assert_empty(queue)

    assert calls == [None, 1]
    if isinstance(store, MemoryIdempotencyStore):
        assert len(store) == 1  # the done marker; the lease is gone


async def test_a_dead_lettered_message_is_not_marked_done(transport: Transport) -> None:
    queue = transport.queue("doomed")
    broker = transport.broker()
    calls = 0

    @broker.subscriber(queue, retry_limit=0, idempotent=Idempotency(60_000))
    async def handle(body: str) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("no")

    async with transport.running(broker):
        await broker.publish("x", queue=queue, message_id="d-1")
        await transport.wait_dead(broker, queue, 1)
        await broker.publish("x", queue=queue, message_id="d-1")
        await transport.dead(broker, queue, 2)

    assert calls == 2
    assert len(broker.hare_runtime.idempotency.memory) == 0
