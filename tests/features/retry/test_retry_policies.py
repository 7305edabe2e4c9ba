"""Retry policies: classification (``retry_on``/``dead_on``), immediate retries, backoff."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from faststream.rabbit.annotations import RabbitMessage

from faststream_hare import backoff, signals
from tests.support.pools import make_broker, running
from tests.support.rabbit_admin import RabbitAdmin
from tests.support.transport import Transport
from tests.support.waiting import eventually


class Runs:
    """Collects the start/stop signals of the consumer, with their ``attempt``."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, str | None]] = []

    def start(self, sender: Any, measurements: Any, metadata: dict[str, Any]) -> None:
        self.events.append(("start", metadata["attempt"], None))

    def stop(self, sender: Any, measurements: Any, metadata: dict[str, Any]) -> None:
        self.events.append(("stop", metadata["attempt"], metadata["result"]))


@pytest.fixture
def runs() -> Iterator[Runs]:
    collected = Runs()
    signals.consumer_message_start.connect(collected.start)
    signals.consumer_message_stop.connect(collected.stop)
    yield collected
    signals.consumer_message_start.disconnect(collected.start)
    signals.consumer_message_stop.disconnect(collected.stop)


async def test_retry_on_retries_a_timeout_and_dead_letters_a_value_error_at_once(
    transport: Transport,
) -> None:
    queue = transport.queue("orders")
    broker = transport.broker()
    calls: list[str] = []

    @broker.subscriber(queue, retry_limit=2, delay_in_ms=50, retry_on=(TimeoutError,))
    async def handle(body: str, message: RabbitMessage) -> None:
        calls.append(str(message.message_id))
        raise TimeoutError("slow") if body == "slow" else ValueError("bad order")

    async with transport.running(broker):
        await broker.publish("bad", queue=queue, message_id="bad-1")
        await broker.publish("slow", queue=queue, message_id="slow-1")
        dead = {d.message_id: d for d in await transport.dead(broker, queue, 2)}

    assert calls.count("bad-1") == 1
    assert calls.count("slow-1") == 3  # the first run plus retry_limit retries
    assert dead["bad-1"].headers["hare-reason"] == "unrecoverable"
    assert dead["bad-1"].headers["hare-exception"] == "ValueError"
    assert dead["bad-1"].headers["retry_count"] == 1
    assert dead["slow-1"].headers["hare-reason"] == "retries_exhausted"
    assert dead["slow-1"].headers["retry_count"] == 3


async def test_dead_on_wins_over_retry_on(transport: Transport) -> None:
    queue = transport.queue("lookup")
    broker = transport.broker()
    calls = 0

    @broker.subscriber(
        queue, retry_limit=3, delay_in_ms=50, retry_on=(LookupError,), dead_on=KeyError
    )
    async def handle(body: str) -> None:
        nonlocal calls
        calls += 1
        raise KeyError("customer")

    async with transport.running(broker):
        await broker.publish("x", queue=queue, message_id="k-1")
        [dead] = await transport.dead(broker, queue, 1)
        await transport.assert_empty(f"{queue}.delay")

    assert calls == 1
    assert (dead.message_id, dead.headers["hare-reason"]) == ("k-1", "unrecoverable")
    assert dead.headers["hare-exception"] == "KeyError"


async def test_immediate_retries_rerun_in_process_with_a_signal_pair_per_run(
    transport: Transport, runs: Runs
) -> None:
    queue = transport.queue("flaky")
    broker = transport.broker()
    seen: list[int | None] = []

    @broker.subscriber(queue, retry_limit=3, delay_in_ms=50, immediate_retries=2)
    async def handle(body: str, message: RabbitMessage) -> None:
        seen.append(message.headers.get("retry_count"))
        if len(seen) < 3:
            raise ConnectionError("not yet")

    async with transport.running(broker):
        await broker.publish("x", queue=queue, message_id="f-1")
        await eventually(lambda: ("stop", 3, "ok") in runs.events)
        await transport.quiet()
        assert await transport.dead(broker, queue) == []
        await transport.assert_empty(queue, f"{queue}.delay")

    assert seen == [None, None, None]  # three runs of one delivery, no delayed retry
    assert runs.events == [
        ("start", 1, None),
        ("stop", 1, "error"),
        ("start", 2, None),
        ("stop", 2, "error"),
        ("start", 3, None),
        ("stop", 3, "ok"),
    ]


async def test_a_third_failure_takes_one_delayed_retry_with_retry_count_one(
    transport: Transport,
) -> None:
    queue = transport.queue("flaky3")
    broker = transport.broker()
    seen: list[int | None] = []

    @broker.subscriber(queue, retry_limit=3, delay_in_ms=50, immediate_retries=2)
    async def handle(body: str, message: RabbitMessage) -> None:
        seen.append(message.headers.get("retry_count"))
        if len(seen) < 4:
            raise ConnectionError("not yet")

    async with transport.running(broker):
        await broker.publish("x", queue=queue, message_id="f-3")
        await eventually(lambda: len(seen) == 4)
        await transport.quiet()
        assert await transport.dead(broker, queue) == []
        await transport.assert_empty(queue)

    assert seen == [None, None, None, 1]


async def test_unrecoverable_failures_are_not_rerun_immediately(transport: Transport) -> None:
    queue = transport.queue("q")
    broker = transport.broker()
    calls = 0

    @broker.subscriber(queue, immediate_retries=3, dead_on=(ValueError,))
    async def handle(body: str) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("no")

    async with transport.running(broker):
        await broker.publish("x", queue=queue)
        [dead] = await transport.dead(broker, queue, 1)

    assert calls == 1
    assert dead.headers["hare-reason"] == "unrecoverable"


@pytest.mark.rabbit
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
