"""What an on-call engineer reads: a failing message is never "acked".

FastStream logs ``Received`` and ``Processed`` for every message; for a failure it would add
``Message was acked`` (hare settles it with an ack). Hare's own line says what became of it —
the retry through a delay queue, or ``Q.dead`` — once, before FastStream's ``Processed``.
"""

from __future__ import annotations

import logging

import pytest

from faststream_hare import Idempotency
from tests.support.transport import Transport
from tests.support.waiting import eventually


def _of(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    """The lines about messages (not the subscriber starting or stopping): the app's logger's,
    and in memory hare's own (``TestRabbitBroker`` logs neither ``Received`` nor ``Processed``)."""
    lines = [r.getMessage() for r in caplog.records if r.name in (name, "faststream_hare.retry")]
    return [line for line in lines if "Handle" not in line]


def _dead_lettered(caplog: pytest.LogCaptureFixture) -> bool:
    return any("dead-lettered" in r.getMessage() for r in caplog.records)


def _hare(lines: list[str]) -> list[str]:
    return [line for line in lines if line not in ("Received", "Processed")]


async def test_a_failing_delivery_logs_the_retry_not_an_ack(
    transport: Transport, caplog: pytest.LogCaptureFixture
) -> None:
    queue = transport.queue("pay")
    app_log = logging.getLogger(f"tests.{transport.prefix}")
    broker = transport.broker(logger=app_log)
    runs: list[int] = []

    @broker.subscriber(queue, retry_limit=1, delay_in_ms=100)
    async def handle(body: int) -> None:
        runs.append(body)
        if body == 1:
            raise ValueError("card declined")

    with caplog.at_level(logging.INFO):
        async with transport.running(broker):
            await broker.publish(0, queue=queue)
            await eventually(lambda: runs == [0])
            await broker.publish(1, queue=queue)
            await transport.wait_dead(broker, queue, 1)
            if transport.rabbit:
                await eventually(lambda: _of(caplog, app_log.name).count("Processed") == 3)

    lines = _of(caplog, app_log.name)
    assert "Message was acked" not in lines
    expected = [
        "Received",
        "Processed",  # the message that succeeded: FastStream's lines, unchanged
        "Received",
        f"retry 1/1 in 100 ms via {queue}.delay (ValueError: card declined)",
        "Processed",
        "Received",
        f"dead-lettered to {queue}.dead after 1 retry, reason retries_exhausted "
        "(ValueError: card declined)",
        "Processed",
    ]
    assert lines == (expected if transport.rabbit else _hare(expected))
    assert runs == [0, 1, 1]


async def test_retries_through_a_cascade_log_in_order_then_dead_lettered(
    transport: Transport, caplog: pytest.LogCaptureFixture
) -> None:
    queue = transport.queue("cascade")
    app_log = logging.getLogger(f"tests.{transport.prefix}")
    broker = transport.broker(logger=app_log)

    @broker.subscriber(queue, retry_limit=2, delay_cascade_in_ms=[100, 200])
    async def handle(body: dict[str, int]) -> None:
        raise ValueError("card declined")

    with caplog.at_level(logging.INFO):
        async with transport.running(broker):
            await broker.publish({"id": 1}, queue=queue)
            await transport.wait_dead(broker, queue, 1)
            await eventually(lambda: _dead_lettered(caplog))

    assert _hare(_of(caplog, app_log.name)) == [
        f"retry 1/2 in 100 ms via {queue}.delay.100 (ValueError: card declined)",
        f"retry 2/2 in 200 ms via {queue}.delay.200 (ValueError: card declined)",
        f"dead-lettered to {queue}.dead after 2 retries, reason retries_exhausted "
        "(ValueError: card declined)",
    ]


async def test_poison_says_after_zero_retries(
    transport: Transport, caplog: pytest.LogCaptureFixture
) -> None:
    queue = transport.queue("typed")
    app_log = logging.getLogger(f"tests.{transport.prefix}")
    broker = transport.broker(logger=app_log)

    @broker.subscriber(queue, retry_limit=3, delay_in_ms=100)
    async def handle(body: int) -> None:
        return None

    with caplog.at_level(logging.INFO):
        async with transport.running(broker):
            await broker.publish("not a number", queue=queue)
            await transport.wait_dead(broker, queue, 1)
            await eventually(lambda: _dead_lettered(caplog))

    [line] = [line for line in _of(caplog, app_log.name) if "dead-lettered" in line]
    assert line.startswith(f"dead-lettered to {queue}.dead after 0 retries, reason poison (")


async def test_an_idempotency_skip_names_the_key_that_matched(
    transport: Transport, caplog: pytest.LogCaptureFixture
) -> None:
    queue = transport.queue("orders")
    app_log = logging.getLogger(f"tests.{transport.prefix}")
    broker = transport.broker(logger=app_log)
    handled: list[dict[str, int]] = []

    @broker.subscriber(queue, idempotent=Idempotency(keys=["order_id"], period_ms=60_000))
    async def handle(body: dict[str, int]) -> None:
        handled.append(body)

    with caplog.at_level(logging.INFO):
        async with transport.running(broker):
            await broker.publish({"order_id": 42, "n": 1}, queue=queue, message_id="m-1")
            await eventually(lambda: len(handled) == 1)
            await broker.publish({"order_id": 42, "n": 2}, queue=queue, message_id="m-2")
            await eventually(
                lambda: any("handled already" in r.getMessage() for r in caplog.records)
            )

    assert handled == [{"order_id": 42, "n": 1}]
    [line] = [r.getMessage() for r in caplog.records if "handled already" in r.getMessage()]
    assert line == (
        "message m-2: a message with the same order_id=42 was handled already; "
        "acked without running it"
    )
