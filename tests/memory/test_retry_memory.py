"""Under TestRabbitBroker, retries and dead-lettering happen in memory, without waiting."""

from __future__ import annotations

import time

import pytest
from faststream.rabbit import TestRabbitBroker
from pydantic import BaseModel

from faststream_hare import HareBroker, signals
from faststream_hare.testing import dead_letters


async def test_failing_handler_is_retried_then_dead_lettered_in_memory() -> None:
    broker = HareBroker()
    calls: list[dict] = []

    @broker.subscriber("orders", exchange="orders_ex", retry_limit=3, delay_in_ms=60_000)
    async def handle(order: dict) -> None:
        calls.append(order)
        raise ValueError("payment service down")

    async with TestRabbitBroker(broker) as br:
        started = time.monotonic()
        await br.publish(
            {"id": 7},
            exchange="orders_ex",
            routing_key="orders",
            message_id="m-7",
            headers={"k": "v"},
        )
        elapsed = time.monotonic() - started
        handle.mock.assert_called_with({"id": 7})  # type: ignore[attr-defined]

    assert len(calls) == 4  # the original plus retry_limit retries
    assert elapsed < 1.0  # the 60 s delay is not waited for
    [dead] = dead_letters(broker, "orders")
    assert dead.json() == {"id": 7}
    assert dead.message_id == "m-7"
    assert dead.headers["retry_count"] == 4
    assert dead.headers["k"] == "v"
    assert dead.headers["hare-exception"] == "ValueError"
    assert dead.headers["hare-error"] == "payment service down"


async def test_success_after_failures_leaves_no_dead_letter() -> None:
    broker = HareBroker()
    attempts = []

    @broker.subscriber("flaky", retry_limit=3, delay_cascade_in_ms=[100, 200])
    async def handle(body: str) -> None:
        attempts.append(body)
        if len(attempts) < 3:
            raise RuntimeError("not yet")

    async with TestRabbitBroker(broker) as br:
        await br.publish("hello", queue="flaky")

    assert attempts == ["hello"] * 3
    assert dead_letters(broker, "flaky") == []


async def test_retry_limit_zero_dead_letters_on_first_failure() -> None:
    broker = HareBroker()

    @broker.subscriber("once", retry_limit=0)
    async def handle(body: str) -> None:
        raise RuntimeError("no")

    async with TestRabbitBroker(broker) as br:
        await br.publish("x", queue="once")
        assert handle.mock.call_count == 1  # type: ignore[attr-defined]

    assert [d.headers["retry_count"] for d in dead_letters(broker, "once")] == [1]


class Order(BaseModel):
    order_id: int


async def test_invalid_body_is_poison_and_skips_retries() -> None:
    broker = HareBroker()
    seen: list[Order] = []

    @broker.subscriber("typed", retry_limit=5)
    async def handle(order: Order) -> None:
        seen.append(order)

    async with TestRabbitBroker(broker) as br:
        await br.publish({"order_id": "not a number"}, queue="typed")
        await br.publish({"order_id": 1}, queue="typed")

    assert seen == [Order(order_id=1)]
    [dead] = dead_letters(broker, "typed")
    assert dead.headers["hare-exception"] == "ValidationError"
    assert dead.headers["retry_count"] == 1


async def test_validation_error_raised_inside_the_handler_is_retried() -> None:
    broker = HareBroker()

    @broker.subscriber("inner", retry_limit=2)
    async def handle(body: dict) -> None:
        Order.model_validate(body)  # the handler's own validation: an ordinary failure

    async with TestRabbitBroker(broker) as br:
        await br.publish({"order_id": "x"}, queue="inner")
        assert handle.mock.call_count == 3  # type: ignore[attr-defined]


async def test_republish_dead_messages_in_memory() -> None:
    broker = HareBroker()
    fail = True
    processed: list[int] = []

    @broker.subscriber("replay", retry_limit=0)
    async def handle(body: int) -> None:
        if fail:
            raise RuntimeError("down")
        processed.append(body)

    async with TestRabbitBroker(broker) as br:
        for i in range(5):
            await br.publish(i, queue="replay")
        assert len(dead_letters(broker, "replay")) == 5
        fail = False
        assert await broker.republish_dead_messages("replay", 3) == 3
        assert await broker.republish_dead_messages("replay", 10) == 2
        assert await broker.republish_dead_messages("replay", 10) == 0
        assert await broker.republish_dead_messages("replay", 0) == 0

    assert processed == [0, 1, 2, 3, 4]


async def test_plain_subscriber_errors_still_reach_the_test() -> None:
    broker = HareBroker()

    @broker.subscriber("plain")
    async def handle(body: str) -> None:
        raise RuntimeError("plain boom")

    async with TestRabbitBroker(broker) as br:
        with pytest.raises(RuntimeError, match="plain boom"):
            await br.publish("x", queue="plain")


async def test_signals_fire_in_memory() -> None:
    broker = HareBroker()
    events: list[tuple[str, dict, dict]] = []

    def record(name: str):
        def receiver(sender: object, measurements: dict, metadata: dict) -> None:
            assert sender is broker
            events.append((name, measurements, metadata))

        return receiver

    receivers = {name: record(name) for name in signals.ALL}
    for name, receiver in receivers.items():
        signals.ALL[name].connect(receiver)
    try:

        @broker.subscriber("sig", exchange="sig_ex", retry_limit=1, delay_cascade_in_ms=[1000])
        async def handle(body: str) -> None:
            raise ValueError("x")

        async with TestRabbitBroker(broker) as br:
            await br.publish("x", exchange="sig_ex", routing_key="sig")
    finally:
        for name, receiver in receivers.items():
            signals.ALL[name].disconnect(receiver)

    names = [name for name, _, _ in events]
    assert names.count("hare_mq.consumer.message.start") == 2
    assert names.count("hare_mq.consumer.message.exception") == 2
    retried = next(e for e in events if e[0] == "hare_mq.retry_publisher.message.retried")
    assert retried[1]["retry_count"] == 1
    assert retried[2] == {"queue": "sig", "delay_queue": "sig.delay.1000", "delay_ms": 1000}
    dead = next(e for e in events if e[0] == "hare_mq.retry_publisher.message.dead_lettered")
    assert dead[1]["retry_count"] == 1  # the count it arrived with, as HareMq
    assert dead[2]["dead_queue"] == "sig.dead"
    stop = next(e for e in events if e[0] == "hare_mq.consumer.message.stop")
    assert stop[2]["result"] == "error"
    assert stop[2]["exchange"] == "sig_ex"
    assert isinstance(stop[1]["duration"], int)
