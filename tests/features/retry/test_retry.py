"""Retries, dead-lettering and replay, in memory and on RabbitMQ, with exact counts."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from faststream.rabbit import TestRabbitBroker
from faststream.rabbit.annotations import RabbitMessage
from pydantic import BaseModel

from faststream_hare import HareBroker, signals
from tests.support.transport import Transport
from tests.support.waiting import eventually


def x_death_queue(message: RabbitMessage) -> str | None:
    deaths = message.headers.get("x-death") or []
    return str(deaths[0]["queue"]) if deaths else None


async def test_a_failing_message_is_retried_then_dead_lettered_intact(
    transport: Transport,
) -> None:
    queue = transport.queue("doomed")
    broker = transport.broker()
    calls: list[dict[str, int]] = []
    delay = 60_000 if transport.memory else 100  # memory delivers a retry without the wait

    @broker.subscriber(queue, exchange=f"{queue}.ex", retry_limit=2, delay_in_ms=delay)
    async def handle(body: dict[str, int]) -> None:
        calls.append(body)
        raise ValueError("card declined")

    async with transport.running(broker):
        started = time.monotonic()
        await broker.publish(
            {"order": 9},
            exchange=f"{queue}.ex",
            routing_key=queue,
            message_id="doomed-9",
            correlation_id="corr-9",
            headers={"tenant": "acme"},
        )
        [dead] = await transport.dead(broker, queue, 1)
        if transport.memory:
            assert time.monotonic() - started < 1.0  # the 60 s delay is not waited for
            handle.mock.assert_called_with({"order": 9})  # type: ignore[attr-defined]
        await transport.quiet(0.3)

    assert calls == [{"order": 9}] * 3  # the original plus retry_limit retries
    assert dead.json() == {"order": 9}
    assert dead.content_type == "application/json"
    assert (dead.message_id, dead.correlation_id) == ("doomed-9", "corr-9")
    assert dead.headers["retry_count"] == 3
    assert dead.headers["tenant"] == "acme"
    assert dead.headers["hare-exception"] == "ValueError"
    assert dead.headers["hare-error"] == "card declined"


async def test_fails_twice_then_succeeds_through_the_cascade(transport: Transport) -> None:
    queue = transport.queue("flaky")
    broker = transport.broker()
    seen: list[tuple[int, str | None]] = []

    @broker.subscriber(queue, retry_limit=3, delay_cascade_in_ms=[100, 200])
    async def handle(body: dict[str, int], message: RabbitMessage) -> None:
        seen.append((message.headers.get("retry_count", 0), x_death_queue(message)))
        if len(seen) < 3:
            raise RuntimeError("not yet")

    async with transport.running(broker):
        await broker.publish({"n": 1}, queue=queue, message_id="flaky-1")
        await eventually(lambda: len(seen) == 3)
        await transport.quiet()
        assert await transport.dead(broker, queue) == []
        await transport.assert_empty(queue, f"{queue}.delay.100", f"{queue}.delay.200")

    assert [count for count, _ in seen] == [0, 1, 2]
    if transport.rabbit:  # the copies went through the delay queues of the cascade
        assert [death for _, death in seen] == [None, f"{queue}.delay.100", f"{queue}.delay.200"]


async def test_retry_limit_zero_dead_letters_on_the_first_failure(transport: Transport) -> None:
    queue = transport.queue("zero")
    broker = transport.broker()
    calls = 0

    @broker.subscriber(queue, retry_limit=0, delay_in_ms=100)
    async def handle(body: str) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("no")

    async with transport.running(broker):
        await broker.publish("x", queue=queue)
        [dead] = await transport.dead(broker, queue, 1)
        await transport.assert_empty(f"{queue}.delay")

    assert calls == 1
    assert dead.headers["retry_count"] == 1


class Order(BaseModel):
    order_id: int


async def test_an_invalid_body_is_poison_and_skips_retries(transport: Transport) -> None:
    queue = transport.queue("typed")
    broker = transport.broker()
    seen: list[Order] = []

    @broker.subscriber(queue, retry_limit=5, delay_in_ms=100)
    async def handle(order: Order) -> None:
        seen.append(order)

    async with transport.running(broker):
        await broker.publish({"order_id": "not a number"}, queue=queue)
        await broker.publish({"order_id": 1}, queue=queue)
        [dead] = await transport.dead(broker, queue, 1)
        await eventually(lambda: seen == [Order(order_id=1)])

    assert dead.headers["hare-exception"] == "ValidationError"
    assert dead.headers["retry_count"] == 1


async def test_a_validation_error_raised_inside_the_handler_is_retried(
    transport: Transport,
) -> None:
    queue = transport.queue("inner")
    broker = transport.broker()
    calls = 0

    @broker.subscriber(queue, retry_limit=2, delay_in_ms=100)
    async def handle(body: dict[str, str]) -> None:
        nonlocal calls
        calls += 1
        Order.model_validate(body)  # the handler's own validation: an ordinary failure

    async with transport.running(broker):
        await broker.publish({"order_id": "x"}, queue=queue)
        [dead] = await transport.dead(broker, queue, 1)

    assert calls == 3
    assert dead.headers["retry_count"] == 3


async def test_many_messages_none_lost(transport: Transport) -> None:
    queue = transport.queue("bulk")
    broker = transport.broker()
    processed: set[int] = set()
    attempts: dict[int, int] = {}

    @broker.subscriber(queue, prefetch_count=10, retry_limit=2, delay_cascade_in_ms=[50, 100])
    async def handle(body: dict[str, int]) -> None:
        number = body["n"]
        attempts[number] = attempts.get(number, 0) + 1
        await asyncio.sleep(0.001)
        if number % 3 == 0:
            raise RuntimeError("permanent")
        processed.add(number)

    failing = {n for n in range(200) if n % 3 == 0}
    async with transport.running(broker):
        await asyncio.gather(*(broker.publish({"n": n}, queue=queue) for n in range(200)))
        await eventually(lambda: len(processed) == 200 - len(failing), timeout=30)
        await eventually(lambda: all(attempts.get(n) == 3 for n in failing), timeout=30)
        dead = await transport.dead(broker, queue, len(failing), timeout=30)
        await transport.assert_empty(queue, f"{queue}.delay.50", f"{queue}.delay.100")

    assert sorted(d.json()["n"] for d in dead) == sorted(failing)
    assert all(attempts[n] == 1 for n in processed)


async def test_republish_dead_messages_moves_fifo_and_resets_the_count(
    transport: Transport,
) -> None:
    queue = transport.queue("replay")
    broker = transport.broker()
    failing = True
    replayed: list[tuple[int, Any]] = []

    @broker.subscriber(queue, retry_limit=0, delay_in_ms=100)
    async def handle(body: int, message: RabbitMessage) -> None:
        if failing:
            raise RuntimeError("down")
        replayed.append((body, message.headers.get("retry_count")))

    async with transport.running(broker):
        for n in range(5):
            await broker.publish(n, queue=queue)
        await transport.wait_dead(broker, queue, 5)
        failing = False
        assert await broker.republish_dead_messages(queue, 0) == 0
        assert await broker.republish_dead_messages(queue, 3) == 3
        await eventually(lambda: len(replayed) == 3)
        assert await broker.republish_dead_messages(queue, 10) == 2
        await eventually(lambda: len(replayed) == 5)
        assert await broker.republish_dead_messages(queue, 10) == 0
        assert await transport.dead(broker, queue) == []
        await transport.assert_empty(queue)

    assert replayed == [(n, None) for n in range(5)]  # FIFO, retry_count reset


async def test_retry_signals(transport: Transport) -> None:
    queue = transport.queue("signals")
    broker = transport.broker()
    events: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    def receiver(name: str) -> Any:
        def record(sender: object, measurements: dict[str, Any], metadata: dict[str, Any]) -> None:
            events.append((name, measurements, metadata))

        return record

    receivers = {name: receiver(name) for name in signals.ALL}
    for name, fn in receivers.items():
        signals.ALL[name].connect(fn, sender=broker)

    @broker.subscriber(queue, exchange=f"{queue}.ex", retry_limit=1, delay_in_ms=100)
    async def handle(body: str) -> None:
        raise KeyError("missing")

    try:
        async with transport.running(broker):
            await broker.publish("x", exchange=f"{queue}.ex", routing_key=queue)
            await eventually(lambda: any(e[0].endswith("dead_lettered") for e in events))
    finally:
        for name, fn in receivers.items():
            signals.ALL[name].disconnect(fn)

    by_name: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for name, measurements, metadata in events:
        by_name.setdefault(name, []).append((measurements, metadata))
    [(retried_m, retried_md)] = by_name["hare_mq.retry_publisher.message.retried"]
    assert retried_m["retry_count"] == 1
    assert retried_md == {"queue": queue, "delay_queue": f"{queue}.delay", "delay_ms": 100}
    [(dead_m, dead_md)] = by_name["hare_mq.retry_publisher.message.dead_lettered"]
    assert dead_m["retry_count"] == 1  # the count it arrived with, as HareMq
    assert dead_md["dead_queue"] == f"{queue}.dead"
    assert len(by_name["hare_mq.consumer.message.start"]) == 2
    assert len(by_name["hare_mq.consumer.message.exception"]) == 2
    stops = by_name["hare_mq.consumer.message.stop"]
    assert [md["result"] for _, md in stops] == ["error", "error"]
    assert all(md["exchange"] == f"{queue}.ex" for _, md in stops)
    assert all(isinstance(m["duration"], int) for m, _ in stops)
    if transport.rabbit:
        assert all(m["duration"] > 0 for m, _ in stops)
        assert "hare_mq.connection.connected" in by_name
        [(_, consumer)] = by_name["hare_mq.consumer.connected"]
        assert consumer == {
            "consumer": "Handle",
            "queue": queue,
            "exchange": f"{queue}.ex",
            "routing_key": queue,
            "stream": False,
        }


# -- one transport only ------------------------------------------------------------------------


async def test_a_plain_subscribers_error_still_reaches_the_test_in_memory() -> None:
    broker = HareBroker()

    @broker.subscriber("plain")
    async def handle(body: str) -> None:
        raise RuntimeError("plain boom")

    async with TestRabbitBroker(broker) as br:
        with pytest.raises(RuntimeError, match="plain boom"):
            await br.publish("x", queue="plain")


@pytest.mark.rabbit
async def test_an_unconfirmed_copy_sends_the_original_back(
    prefix: str, broker_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    queue = f"{prefix}.unconfirmed"
    broker = HareBroker(broker_url)
    deliveries: list[bool] = []

    @broker.subscriber(queue, retry_limit=5, delay_in_ms=100)
    async def handle(body: str, message: RabbitMessage) -> None:
        deliveries.append(message.raw_message.redelivered)
        if len(deliveries) == 1:
            raise RuntimeError("first try fails")

    async with broker:
        await broker.start()
        connection = await broker.connect()
        channel = await connection.channel()
        await channel.queue_delete(f"{queue}.delay")  # behind the library's back
        await channel.close()
        with caplog.at_level(logging.ERROR, logger="faststream_hare.retry"):
            await broker.publish("keep me", queue=queue)
            await eventually(lambda: len(deliveries) == 2)

    assert deliveries == [False, True]  # the same message came back: not lost
    assert any("Could not hand message" in r.getMessage() for r in caplog.records)
    assert any(f"'{queue}.delay'" in r.getMessage() for r in caplog.records)
