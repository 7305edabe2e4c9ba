"""Retry policies on a real RabbitMQ: classification, immediate retries, backoff."""

from __future__ import annotations

from typing import Any

import aio_pika
import pytest
from faststream.rabbit.annotations import RabbitMessage

from faststream_hare import backoff
from tests.support.amqp import depth, depths, drain, wait_depth
from tests.support.pools import make_broker, running
from tests.support.rabbit_admin import AMQP_URL, RabbitAdmin
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit


async def dead_headers(queue: str) -> list[tuple[str, dict[str, Any]]]:
    """Each dead copy's message id and headers, oldest first."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        dead = await channel.declare_queue(f"{queue}.dead", passive=True)
        return [(str(m.message_id), dict(m.headers)) for m in await drain(dead)]
    finally:
        await connection.close()


async def test_retry_on_retries_a_timeout_and_dead_letters_a_value_error_at_once(
    prefix: str,
) -> None:
    queue = f"{prefix}.orders"
    broker = make_broker(prefix)
    calls: list[str] = []

    @broker.subscriber(queue, retry_limit=2, delay_in_ms=50, retry_on=(TimeoutError,))
    async def handle(body: str, message: RabbitMessage) -> None:
        calls.append(str(message.message_id))
        raise TimeoutError("slow") if body == "slow" else ValueError("bad order")

    async with running(broker):
        await broker.publish("bad", queue=queue, message_id="bad-1")
        await broker.publish("slow", queue=queue, message_id="slow-1")
        await wait_depth(f"{queue}.dead", 2, timeout=20)

    assert calls.count("bad-1") == 1
    assert calls.count("slow-1") == 3  # the first run plus retry_limit retries
    dead = dict(await dead_headers(queue))
    assert dead["bad-1"]["hare-reason"] == "unrecoverable"
    assert dead["bad-1"]["hare-exception"] == "ValueError"
    assert dead["bad-1"]["retry_count"] == 1
    assert dead["slow-1"]["hare-reason"] == "retries_exhausted"
    assert dead["slow-1"]["retry_count"] == 3


async def test_dead_on_wins_over_retry_on(prefix: str) -> None:
    queue = f"{prefix}.lookup"
    broker = make_broker(prefix)
    calls = 0

    @broker.subscriber(
        queue, retry_limit=3, delay_in_ms=50, retry_on=(LookupError,), dead_on=(KeyError,)
    )
    async def handle(body: str) -> None:
        nonlocal calls
        calls += 1
        raise KeyError("customer")

    async with running(broker):
        await broker.publish("x", queue=queue, message_id="k-1")
        await wait_depth(f"{queue}.dead", 1)
        assert await depth(f"{queue}.delay") == 0

    assert calls == 1
    [(message_id, headers)] = await dead_headers(queue)
    assert (message_id, headers["hare-reason"]) == ("k-1", "unrecoverable")


async def test_immediate_retries_succeed_without_touching_a_delay_queue(prefix: str) -> None:
    queue = f"{prefix}.flaky"
    broker = make_broker(prefix)
    seen: list[int | None] = []

    @broker.subscriber(queue, retry_limit=3, delay_in_ms=50, immediate_retries=2)
    async def handle(body: str, message: RabbitMessage) -> None:
        seen.append(message.headers.get("retry_count"))
        if len(seen) < 3:
            raise ConnectionError("not yet")

    async with running(broker):
        await broker.publish("x", queue=queue, message_id="f-1")
        await eventually(lambda: len(seen) == 3)
        await wait_depth(queue, 0)
        assert await depths(f"{queue}.delay", f"{queue}.dead") == {
            f"{queue}.delay": 0,
            f"{queue}.dead": 0,
        }

    assert seen == [None, None, None]  # retry_count absent: no delayed retry happened


async def test_a_third_failure_takes_one_delayed_retry_with_retry_count_one(prefix: str) -> None:
    queue = f"{prefix}.flaky3"
    broker = make_broker(prefix)
    seen: list[int | None] = []

    @broker.subscriber(queue, retry_limit=3, delay_in_ms=50, immediate_retries=2)
    async def handle(body: str, message: RabbitMessage) -> None:
        seen.append(message.headers.get("retry_count"))
        if len(seen) < 4:
            raise ConnectionError("not yet")

    async with running(broker):
        await broker.publish("x", queue=queue, message_id="f-3")
        await eventually(lambda: len(seen) == 4)
        await wait_depth(queue, 0)
        assert await depth(f"{queue}.dead") == 0

    assert seen == [None, None, None, 1]


async def test_backoff_declares_one_delay_queue_per_distinct_value(
    prefix: str, admin: RabbitAdmin
) -> None:
    queue = f"{prefix}.backoff"
    cascade = backoff(1000, 2, 5000, 4)
    assert cascade == (1000, 2000, 4000, 5000)
    broker = make_broker(prefix)

    @broker.subscriber(queue, retry_limit=4, delay_cascade_in_ms=cascade)
    async def handle(body: str) -> None: ...

    wanted = {f"{queue}.delay.{ms}": ms for ms in cascade}
    async with running(broker):
        for name, ms in wanted.items():
            found = admin.wait_for(name, lambda q: q is not None)
            assert found["arguments"]["x-message-ttl"] == ms
        assert {q["name"] for q in admin.queues(f"{queue}.delay")} == set(wanted)
