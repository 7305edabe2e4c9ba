"""Retries, dead-lettering and replay on a real RabbitMQ, with counts."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from faststream.rabbit.annotations import RabbitMessage

from faststream_hare import HareBroker, signals
from tests.support.amqp import depth, depths, wait_depth
from tests.support.rabbit_admin import RabbitAdmin
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit


def x_death_queue(message: RabbitMessage) -> str | None:
    deaths = message.headers.get("x-death") or []
    return str(deaths[0]["queue"]) if deaths else None


async def test_fails_twice_then_succeeds_through_the_cascade(
    prefix: str, broker_url: str, admin: RabbitAdmin
) -> None:
    queue = f"{prefix}.flaky"
    broker = HareBroker(broker_url)
    seen: list[tuple[int, str | None]] = []

    @broker.subscriber(queue, retry_limit=3, delay_cascade_in_ms=[100, 200])
    async def handle(body: dict, message: RabbitMessage) -> None:
        seen.append((message.headers.get("retry_count", 0), x_death_queue(message)))
        if len(seen) < 3:
            raise RuntimeError("not yet")

    async with broker:
        await broker.start()
        await broker.publish({"n": 1}, queue=queue, message_id="flaky-1")
        await eventually(lambda: len(seen) == 3)
        await asyncio.sleep(0.5)  # nothing else may arrive
        names = (queue, f"{queue}.delay.100", f"{queue}.delay.200", f"{queue}.dead")
        assert await depths(*names) == dict.fromkeys(names, 0)

    assert seen == [(0, None), (1, f"{queue}.delay.100"), (2, f"{queue}.delay.200")]


async def test_always_failing_message_ends_in_dead_queue_intact(
    prefix: str, broker_url: str, admin: RabbitAdmin
) -> None:
    queue = f"{prefix}.doomed"
    broker = HareBroker(broker_url)
    calls = 0

    @broker.subscriber(queue, retry_limit=2, delay_in_ms=100)
    async def handle(body: dict) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("card declined")

    async with broker:
        await broker.start()
        await broker.publish(
            {"order": 9},
            queue=queue,
            message_id="doomed-9",
            correlation_id="corr-9",
            headers={"tenant": "acme"},
        )
        await eventually(lambda: calls == 3)
        connection = await broker.connect()
        channel = await connection.channel()
        dead_queue = await channel.declare_queue(f"{queue}.dead", passive=True)
        dead = None
        for _ in range(100):
            dead = await dead_queue.get(no_ack=True, fail=False)
            if dead is not None:
                break
            await asyncio.sleep(0.05)
        assert dead is not None
        await asyncio.sleep(0.3)
        assert calls == 3  # the handler saw the message exactly retry_limit + 1 times
        await channel.close()

    assert dead.body == b'{"order":9}'
    assert dead.content_type == "application/json"
    assert dead.message_id == "doomed-9"
    assert dead.correlation_id == "corr-9"
    assert dead.headers["retry_count"] == 3
    assert dead.headers["tenant"] == "acme"
    assert dead.headers["hare-exception"] == "ValueError"
    assert dead.headers["hare-error"] == "card declined"


async def test_retry_limit_zero_dead_letters_at_once(
    prefix: str, broker_url: str, admin: RabbitAdmin
) -> None:
    queue = f"{prefix}.zero"
    broker = HareBroker(broker_url)
    calls = 0

    @broker.subscriber(queue, retry_limit=0, delay_in_ms=100)
    async def handle(body: str) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("no")

    async with broker:
        await broker.start()
        await broker.publish("x", queue=queue)
        await wait_depth(f"{queue}.dead", 1)
        assert calls == 1
        assert await depth(f"{queue}.delay") == 0


async def test_two_hundred_messages_none_lost(
    prefix: str, broker_url: str, admin: RabbitAdmin
) -> None:
    queue = f"{prefix}.bulk"
    broker = HareBroker(broker_url)
    processed: set[int] = set()
    attempts: dict[int, int] = {}

    @broker.subscriber(queue, prefetch_count=10, retry_limit=2, delay_cascade_in_ms=[50, 100])
    async def handle(body: dict) -> None:
        number = body["n"]
        attempts[number] = attempts.get(number, 0) + 1
        await asyncio.sleep(0.001)
        if number % 3 == 0:
            raise RuntimeError("permanent")
        processed.add(number)

    async with broker:
        await broker.start()
        await asyncio.gather(*(broker.publish({"n": n}, queue=queue) for n in range(200)))
        failing = {n for n in range(200) if n % 3 == 0}
        await eventually(lambda: len(processed) == 200 - len(failing), timeout=30)
        await eventually(lambda: all(attempts.get(n) == 3 for n in failing), timeout=30)
        await wait_depth(f"{queue}.dead", len(failing), timeout=30)
        dead = await depth(f"{queue}.dead")
        others = await depths(queue, f"{queue}.delay.50", f"{queue}.delay.100")

    assert len(processed) + dead == 200
    assert all(attempts[n] == 1 for n in processed)
    assert others == dict.fromkeys(others, 0)


async def test_unconfirmed_copy_sends_the_original_back(
    prefix: str, broker_url: str, admin: RabbitAdmin, caplog: pytest.LogCaptureFixture
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


async def test_republish_dead_messages_moves_fifo_and_resets_count(
    prefix: str, broker_url: str, admin: RabbitAdmin
) -> None:
    queue = f"{prefix}.replay"
    broker = HareBroker(broker_url)
    failing = True
    replayed: list[tuple[int, Any]] = []

    @broker.subscriber(queue, retry_limit=0, delay_in_ms=100)
    async def handle(body: int, message: RabbitMessage) -> None:
        if failing:
            raise RuntimeError("down")
        replayed.append((body, message.headers.get("retry_count")))

    async with broker:
        await broker.start()
        for n in range(5):
            await broker.publish(n, queue=queue)
        await wait_depth(f"{queue}.dead", 5)
        failing = False
        assert await broker.republish_dead_messages(queue, 0) == 0
        assert await broker.republish_dead_messages(queue, 3) == 3
        await eventually(lambda: len(replayed) == 3)
        assert await broker.republish_dead_messages(queue, 10) == 2
        await eventually(lambda: len(replayed) == 5)
        assert await broker.republish_dead_messages(queue, 10) == 0
        assert await depths(queue, f"{queue}.dead") == {queue: 0, f"{queue}.dead": 0}

    assert replayed == [(n, None) for n in range(5)]  # FIFO, retry_count reset


async def test_retry_signals_on_the_real_broker(prefix: str, broker_url: str) -> None:
    queue = f"{prefix}.signals"
    broker = HareBroker(broker_url)
    events: list[tuple[str, dict, dict]] = []

    def receiver(name: str):
        def record(sender: object, measurements: dict, metadata: dict) -> None:
            events.append((name, measurements, metadata))

        return record

    receivers = {name: receiver(name) for name in signals.ALL}
    for name, fn in receivers.items():
        signals.ALL[name].connect(fn, sender=broker)

    @broker.subscriber(queue, exchange=f"{prefix}.ex", retry_limit=1, delay_in_ms=100)
    async def handle(body: str) -> None:
        raise KeyError("missing")

    try:
        async with broker:
            await broker.start()
            await broker.publish("x", exchange=f"{prefix}.ex", routing_key=queue)
            await eventually(
                lambda: any(e[0].endswith("dead_lettered") for e in events), timeout=10
            )
    finally:
        for name, fn in receivers.items():
            signals.ALL[name].disconnect(fn)

    by_name: dict[str, list[tuple[dict, dict]]] = {}
    for name, measurements, metadata in events:
        by_name.setdefault(name, []).append((measurements, metadata))
    [(_, consumer)] = by_name["hare_mq.consumer.connected"]
    assert consumer == {
        "consumer": "Handle",
        "queue": queue,
        "exchange": f"{prefix}.ex",
        "routing_key": queue,
        "stream": False,
    }
    [(retried_m, retried_md)] = by_name["hare_mq.retry_publisher.message.retried"]
    assert retried_m["retry_count"] == 1
    assert retried_md == {"queue": queue, "delay_queue": f"{queue}.delay", "delay_ms": 100}
    [(dead_m, dead_md)] = by_name["hare_mq.retry_publisher.message.dead_lettered"]
    assert dead_m["retry_count"] == 1
    assert dead_md["dead_queue"] == f"{queue}.dead"
    assert len(by_name["hare_mq.consumer.message.start"]) == 2
    stops = by_name["hare_mq.consumer.message.stop"]
    assert [md["result"] for _, md in stops] == ["error", "error"]
    assert all(m["duration"] > 0 for m, _ in stops)
    assert "hare_mq.connection.connected" in by_name
