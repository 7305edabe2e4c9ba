"""Retry policies under TestRabbitBroker: classification and immediate retries."""

from __future__ import annotations

from typing import Any

import pytest
from faststream.rabbit import TestRabbitBroker
from faststream.rabbit.annotations import RabbitMessage

from faststream_hare import HareBroker, signals
from faststream_hare.testing import dead_letters


class Runs:
    """Collects the start/stop signals of the consumer, with their ``attempt``."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, str | None]] = []

    def start(self, sender: Any, measurements: Any, metadata: dict[str, Any]) -> None:
        self.events.append(("start", metadata["attempt"], None))

    def stop(self, sender: Any, measurements: Any, metadata: dict[str, Any]) -> None:
        self.events.append(("stop", metadata["attempt"], metadata["result"]))


@pytest.fixture
def runs() -> Any:
    collected = Runs()
    signals.consumer_message_start.connect(collected.start)
    signals.consumer_message_stop.connect(collected.stop)
    yield collected
    signals.consumer_message_start.disconnect(collected.start)
    signals.consumer_message_stop.disconnect(collected.stop)


async def test_an_exception_outside_retry_on_is_dead_at_once_as_unrecoverable() -> None:
    broker = HareBroker()
    calls: list[str] = []

    @broker.subscriber("orders", retry_limit=3, retry_on=(TimeoutError,))
    async def handle(body: str) -> None:
        calls.append(body)
        raise TimeoutError("slow") if body == "slow" else ValueError("bad order")

    async with TestRabbitBroker(broker) as br:
        await br.publish("slow", queue="orders")
        await br.publish("bad", queue="orders")

    assert calls == ["slow"] * 4 + ["bad"]
    dead = dead_letters(broker, "orders")
    assert [(d.body, d.headers["retry_count"], d.headers["hare-reason"]) for d in dead] == [
        (b"slow", 4, "retries_exhausted"),
        (b"bad", 1, "unrecoverable"),
    ]
    assert dead[1].headers["hare-exception"] == "ValueError"


async def test_dead_on_wins_over_retry_on() -> None:
    broker = HareBroker()
    calls = 0

    @broker.subscriber("orders", retry_limit=3, retry_on=(LookupError,), dead_on=KeyError)
    async def handle(body: str) -> None:
        nonlocal calls
        calls += 1
        raise KeyError("customer")

    async with TestRabbitBroker(broker) as br:
        await br.publish("x", queue="orders")

    assert calls == 1
    [dead] = dead_letters(broker, "orders")
    assert dead.headers["hare-reason"] == "unrecoverable"
    assert dead.headers["hare-exception"] == "KeyError"


async def test_immediate_retries_rerun_in_process_with_a_signal_pair_per_run(runs: Runs) -> None:
    broker = HareBroker()
    seen: list[int | None] = []

    @broker.subscriber("flaky", retry_limit=3, immediate_retries=2)
    async def handle(body: str, message: RabbitMessage) -> None:
        seen.append(message.headers.get("retry_count"))
        if len(seen) < 3:
            raise ConnectionError("not yet")

    async with TestRabbitBroker(broker) as br:
        await br.publish("x", queue="flaky")

    assert seen == [None, None, None]  # three runs of one delivery, no delayed retry
    assert dead_letters(broker, "flaky") == []
    assert runs.events == [
        ("start", 1, None),
        ("stop", 1, "error"),
        ("start", 2, None),
        ("stop", 2, "error"),
        ("start", 3, None),
        ("stop", 3, "ok"),
    ]


async def test_a_third_failure_takes_the_delayed_path_with_retry_count_one() -> None:
    broker = HareBroker()
    seen: list[int | None] = []

    @broker.subscriber("flaky", retry_limit=3, immediate_retries=2, delay_in_ms=60_000)
    async def handle(body: str, message: RabbitMessage) -> None:
        seen.append(message.headers.get("retry_count"))
        if len(seen) < 4:
            raise ConnectionError("not yet")

    async with TestRabbitBroker(broker) as br:
        await br.publish("x", queue="flaky")

    assert seen == [None, None, None, 1]
    assert dead_letters(broker, "flaky") == []


async def test_unrecoverable_failures_are_not_rerun_immediately() -> None:
    broker = HareBroker()
    calls = 0

    @broker.subscriber("q", immediate_retries=3, dead_on=(ValueError,))
    async def handle(body: str) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("no")

    async with TestRabbitBroker(broker) as br:
        await br.publish("x", queue="q")

    assert calls == 1
    assert [d.headers["hare-reason"] for d in dead_letters(broker, "q")] == ["unrecoverable"]
