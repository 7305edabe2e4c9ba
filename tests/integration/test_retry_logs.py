"""What an on-call engineer reads on the real broker: a failing message is never "acked".

FastStream logs ``Received`` and ``Processed`` for every message; for a failure it would add
``Message was acked`` (hare settles it with an ack). Hare's own line says what became of it —
the retry through a delay queue, or ``Q.dead`` — once, before FastStream's ``Processed``.
"""

from __future__ import annotations

import logging

import pytest

from faststream_hare import HareBroker
from tests.support.amqp import wait_depth
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit


def _of(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    """The lines about messages (not the subscriber starting or stopping)."""
    lines = [r.getMessage() for r in caplog.records if r.name == name]
    return [line for line in lines if "Handle" not in line]


async def test_failing_delivery_logs_the_retry_not_an_ack(
    prefix: str, broker_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    queue = f"{prefix}.pay"
    app_log = logging.getLogger(f"tests.{prefix}")
    broker = HareBroker(broker_url, logger=app_log)
    runs: list[int] = []

    @broker.subscriber(queue, retry_limit=1, delay_in_ms=100)
    async def handle(body: int) -> None:
        runs.append(body)
        if body == 1:
            raise ValueError("card declined")

    with caplog.at_level(logging.INFO):
        async with broker:
            await broker.start()
            await broker.publish(0, queue=queue)
            await eventually(lambda: _of(caplog, app_log.name).count("Processed") == 1)
            await broker.publish(1, queue=queue)
            await wait_depth(f"{queue}.dead", 1)
            await eventually(lambda: _of(caplog, app_log.name).count("Processed") == 3)

    lines = _of(caplog, app_log.name)
    assert "Message was acked" not in lines
    assert lines == [
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
    assert runs == [0, 1, 1]
