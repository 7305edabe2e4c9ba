"""Under TestRabbitBroker, a failing message's log lines say what became of it, in order."""

from __future__ import annotations

import logging

import pytest
from faststream.rabbit import TestRabbitBroker

from faststream_hare import HareBroker, Idempotency

#: The app's own logger: FastStream's and hare's lines go through it, and it reaches caplog.
_LOG = logging.getLogger("tests.shop")


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records]


async def test_retries_log_in_order_then_dead_lettered(caplog: pytest.LogCaptureFixture) -> None:
    broker = HareBroker(logger=_LOG)

    @broker.subscriber("pay", retry_limit=2, delay_cascade_in_ms=[1000, 5000])
    async def handle(body: dict) -> None:
        raise ValueError("card declined")

    with caplog.at_level(logging.INFO):
        async with TestRabbitBroker(broker) as br:
            await br.publish({"id": 1}, queue="pay")

    hare = [line for line in _lines(caplog) if "retry" in line or "dead-lettered" in line]
    assert hare == [
        "retry 1/2 in 1000 ms via pay.delay.1000 (ValueError: card declined)",
        "retry 2/2 in 5000 ms via pay.delay.5000 (ValueError: card declined)",
        "dead-lettered to pay.dead after 2 retries, reason retries_exhausted "
        "(ValueError: card declined)",
    ]
    assert "Message was acked" not in _lines(caplog)


async def test_poison_says_after_zero_retries(caplog: pytest.LogCaptureFixture) -> None:
    broker = HareBroker(logger=_LOG)

    @broker.subscriber("typed", retry_limit=3)
    async def handle(body: int) -> None:
        return None

    with caplog.at_level(logging.INFO):
        async with TestRabbitBroker(broker) as br:
            await br.publish("not a number", queue="typed")

    [line] = [line for line in _lines(caplog) if "dead-lettered" in line]
    assert line.startswith("dead-lettered to typed.dead after 0 retries, reason poison (")


async def test_one_retry_is_singular(caplog: pytest.LogCaptureFixture) -> None:
    broker = HareBroker(logger=_LOG)

    @broker.subscriber("once", retry_limit=1, delay_in_ms=100)
    async def handle(body: str) -> None:
        raise RuntimeError("down")

    with caplog.at_level(logging.INFO):
        async with TestRabbitBroker(broker) as br:
            await br.publish("x", queue="once")

    assert "dead-lettered to once.dead after 1 retry, reason retries_exhausted " in "\n".join(
        _lines(caplog)
    )


async def test_idempotency_skip_names_the_key_that_matched(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = HareBroker(logger=_LOG)
    handled: list[dict] = []

    @broker.subscriber("orders", idempotent=Idempotency(keys=["order_id"], period_ms=60_000))
    async def handle(body: dict) -> None:
        handled.append(body)

    with caplog.at_level(logging.INFO):
        async with TestRabbitBroker(broker) as br:
            await br.publish({"order_id": 42, "n": 1}, queue="orders", message_id="m-1")
            await br.publish({"order_id": 42, "n": 2}, queue="orders", message_id="m-2")

    assert handled == [{"order_id": 42, "n": 1}]
    [line] = [line for line in _lines(caplog) if "handled already" in line]
    assert line == (
        "message m-2: a message with the same order_id=42 was handled already; "
        "acked without running it"
    )
