"""Errors around the handler are failures hare accounts for.

A broker middleware of the user's can raise *before* the handler (``on_receive``, or
``consume_scope`` before it calls on): the message is retried like a raising handler's, handled
once it passes, or dead-lettered once its retries are spent (docs/guarantees.md: it ends
handled, retried, dead-lettered or back in ``Q``, whatever fails).

The handler ran and returned, then something else of FastStream's processing raised: the
return value cannot be serialized, publishing it fails (an ``@publisher`` exchange that is
gone, a ``reply_to`` nothing routes), or a broker middleware of the user's raises on the way
out. Each message is retried like a raising handler and ends in ``Q.dead`` with the error —
never rejected into nowhere. With ``idempotent=``, such a message is not marked done.
Counts are exact, by message id.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import pytest
from faststream import BaseMiddleware
from faststream.rabbit import RabbitExchange

from faststream_hare import HareBroker, Idempotency
from tests.support.amqp import AMQP_URL, depths, drain_named, wait_depth
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit

IDS = [f"a-{n}" for n in range(3)]


class Unserializable:
    """A return value pydantic cannot turn into JSON."""


async def _dead(queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    return await drain_named(f"{queue}.dead")


async def _publish_and_expect_dead(
    queue: str, runs: list[str], **publish: Any
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    # on a connection of the test's own: a 404 closes FastStream's publishing channel
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        for message_id in IDS:
            await channel.default_exchange.publish(
                aio_pika.Message(message_id.encode(), message_id=message_id, **publish),
                routing_key=queue,
            )
    finally:
        await connection.close()
    await wait_depth(f"{queue}.dead", len(IDS))
    remaining = await depths(queue, f"{queue}.delay")
    dead = await _dead(queue)
    dead_ids = sorted(m.message_id or "" for m in dead)
    lost = sorted(set(IDS) - set(dead_ids))
    print(f"[around] {queue}: runs={len(runs)} dead={len(dead_ids)} lost={len(lost)}")
    assert lost == []
    assert dead_ids == IDS  # each exactly once
    assert remaining == {queue: 0, f"{queue}.delay": 0}
    assert sorted(runs) == sorted(IDS * 3)  # the first run and two retries
    for message in dead:
        assert message.headers["hare-reason"] == "retries_exhausted"
    return dead


async def test_a_return_value_that_cannot_be_serialized_is_retried_then_dead(
    prefix: str, broker_url: str
) -> None:
    queue = f"{prefix}.unserializable"
    broker = HareBroker(broker_url)
    runs: list[str] = []

    @broker.subscriber(queue, retry_limit=2, delay_in_ms=50)
    @broker.publisher(f"{queue}.out")
    async def handle(body: str) -> Any:
        runs.append(body)
        return Unserializable()

    async with broker:
        await broker.start()
        dead = await _publish_and_expect_dead(queue, runs)
    assert {m.headers["hare-exception"] for m in dead} == {"PydanticSerializationError"}


async def test_a_publisher_whose_exchange_is_gone_retries_the_message(
    prefix: str, broker_url: str
) -> None:
    queue = f"{prefix}.noexchange"
    gone = f"{prefix}.gone-{uuid.uuid4().hex[:6]}"
    broker = HareBroker(broker_url)
    runs: list[str] = []

    @broker.subscriber(queue, retry_limit=2, delay_in_ms=50)
    @broker.publisher("out", exchange=RabbitExchange(gone, declare=False))
    async def handle(body: str) -> str:
        runs.append(body)
        return body

    connection = await aio_pika.connect(AMQP_URL)
    channel = await connection.channel()
    await channel.declare_exchange(gone)  # FastStream only looks it up (declare=False)
    async with broker:
        await broker.start()
        await channel.exchange_delete(gone)  # gone now, and never declared again
        await connection.close()
        dead = await _publish_and_expect_dead(queue, runs)
    assert {m.headers["hare-exception"] for m in dead} <= {
        "ChannelNotFoundEntity",
        "ChannelInvalidStateError",
    }


async def test_a_reply_nothing_routes_retries_the_message(prefix: str, broker_url: str) -> None:
    queue = f"{prefix}.noreply"
    broker = HareBroker(broker_url)
    runs: list[str] = []

    @broker.subscriber(queue, retry_limit=2, delay_in_ms=50)
    async def handle(body: str) -> str:
        runs.append(body)
        return f"reply to {body}"

    async with broker:
        await broker.start()
        dead = await _publish_and_expect_dead(queue, runs, reply_to=f"{prefix}.nobody-listens")
    assert {m.headers["hare-exception"] for m in dead} == {"UnroutableReplyError"}


class RaisesOnTheWayOut(BaseMiddleware):
    """A user's broker middleware whose ``after_processed`` fails after the handler ran."""

    async def after_processed(
        self, exc_type: Any = None, exc_val: Any = None, exc_tb: Any = None
    ) -> bool | None:
        if exc_type is None:
            raise RuntimeError("audit log unavailable")
        return None


async def test_a_user_middleware_raising_after_the_handler_retries_the_message(
    prefix: str, broker_url: str
) -> None:
    queue = f"{prefix}.middleware"
    broker = HareBroker(broker_url, middlewares=[RaisesOnTheWayOut])
    runs: list[str] = []

    @broker.subscriber(queue, retry_limit=2, delay_in_ms=50)
    async def handle(body: str) -> None:
        runs.append(body)

    async with broker:
        await broker.start()
        dead = await _publish_and_expect_dead(queue, runs)
    assert {m.headers["hare-error"] for m in dead} == {"audit log unavailable"}


async def test_an_idempotent_message_is_not_marked_done_when_its_reply_fails(
    prefix: str, broker_url: str
) -> None:
    queue = f"{prefix}.idem"
    broker = HareBroker(broker_url)
    runs: list[str] = []

    @broker.subscriber(queue, retry_limit=2, delay_in_ms=50, idempotent=Idempotency(60_000))
    @broker.publisher(f"{queue}.out")
    async def handle(body: str) -> Any:
        runs.append(body)
        return Unserializable()

    async with broker:
        await broker.start()
        await _publish_and_expect_dead(queue, runs)  # every retry ran the handler


#: Before-the-handler ids: ``always`` fail in the middleware on every delivery, ``once`` on their
#: first delivery only, ``never`` pass straight through.
BEFORE_IDS = [f"b-{n}" for n in range(9)]
ALWAYS = BEFORE_IDS[0::3]
ONCE = BEFORE_IDS[1::3]
NEVER = BEFORE_IDS[2::3]


def _raises_before(hook: str, seen: Counter[str]) -> type[BaseMiddleware]:
    """A user's broker middleware that raises in ``hook``, before the handler runs."""

    def fail(message_id: str) -> None:
        seen[message_id] += 1
        if message_id in ALWAYS or (message_id in ONCE and seen[message_id] == 1):
            raise RuntimeError(f"rate limiter refused {message_id}")

    class RaisesBefore(BaseMiddleware):
        async def on_receive(self) -> None:
            if hook == "on_receive":
                fail(self.msg.message_id or "")
            await super().on_receive()

        async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
            if hook == "consume_scope":
                fail(msg.message_id or "")
            return await call_next(msg)

    return RaisesBefore


@pytest.mark.parametrize("hook", ["on_receive", "consume_scope"])
async def test_a_user_middleware_raising_before_the_handler_retries_the_message(
    prefix: str, broker_url: str, hook: str
) -> None:
    queue = f"{prefix}.before"
    seen: Counter[str] = Counter()
    broker = HareBroker(broker_url, middlewares=[_raises_before(hook, seen)])
    runs: Counter[str] = Counter()

    @broker.subscriber(queue, retry_limit=2, delay_in_ms=50)
    async def handle(body: str) -> None:
        runs[body] += 1

    async with broker:
        await broker.start()
        connection = await aio_pika.connect(AMQP_URL)
        try:
            channel = await connection.channel()
            for message_id in BEFORE_IDS:
                await channel.default_exchange.publish(
                    aio_pika.Message(message_id.encode(), message_id=message_id),
                    routing_key=queue,
                )
        finally:
            await connection.close()
        await wait_depth(f"{queue}.dead", len(ALWAYS))
        await eventually(lambda: sum(runs.values()) >= len(ONCE) + len(NEVER))
        remaining = await depths(queue, f"{queue}.delay")
    dead = await _dead(queue)
    dead_ids = sorted(m.message_id or "" for m in dead)
    handled = sorted(runs)
    lost = sorted(set(BEFORE_IDS) - set(handled) - set(dead_ids))
    duplicates = sum(count - 1 for count in runs.values()) + len(dead_ids) - len(set(dead_ids))
    print(
        f"[before/{hook}] handled={len(handled)} dead={len(dead_ids)} lost={len(lost)} "
        f"duplicates={duplicates} deliveries={sum(seen.values())}"
    )
    assert lost == []
    assert duplicates == 0
    assert handled == sorted(ONCE + NEVER)  # the handler never saw an ``always`` id
    assert dead_ids == sorted(ALWAYS)
    assert remaining == {queue: 0, f"{queue}.delay": 0}
    # deliveries: three of each ``always`` (two retries), two of each ``once``, one of the rest
    assert seen == Counter(
        {**dict.fromkeys(ALWAYS, 3), **dict.fromkeys(ONCE, 2), **dict.fromkeys(NEVER, 1)}
    )
    for message in dead:
        assert message.headers["hare-reason"] == "retries_exhausted"
        assert message.headers["hare-exception"] == "RuntimeError"
        assert message.headers["hare-error"] == f"rate limiter refused {message.message_id}"
