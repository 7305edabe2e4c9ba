"""A plain FastStream publisher of a hare app publishes to the exchange HareMq declared.

HareMq declares ``E`` as ``topic``; FastStream would declare a string exchange ``direct``. The
app starts anyway, says so in one WARNING naming both types, and HareMq handles every message.
"""

from __future__ import annotations

import logging

import pytest

from faststream_hare import HareBroker, PublishResult
from tests.interop.haremq import HareMqBuild, Names, consumer_args, run_elixir_side
from tests.support.rabbit_admin import RabbitAdmin
from tests.support.waiting import eventually

pytestmark = [pytest.mark.interop, pytest.mark.rabbit]

MESSAGES = [f"order-{n}" for n in range(4)]


async def test_a_plain_publisher_publishes_to_haremqs_exchange(
    names: Names,
    broker_url: str,
    haremq: HareMqBuild,
    admin: RabbitAdmin,
    caplog: pytest.LogCaptureFixture,
) -> None:
    consumer = consumer_args(names.queue, exchange=names.exchange, routing_key=names.routing_key)
    async with run_elixir_side(haremq, *consumer) as side:
        await side.wait_for("ready", role="consumer")  # HareMq declared E (topic)
        broker = HareBroker(broker_url)
        orders = broker.publisher(names.routing_key, exchange=names.exchange)
        with caplog.at_level(logging.WARNING, logger="faststream_hare"):
            async with broker:
                await broker.start()
                for message_id in MESSAGES:
                    result = await orders.publish_message({"id": message_id})
                    assert result == PublishResult.OK
                await eventually(lambda: len(side.of("handled")) >= len(MESSAGES), timeout=30)
    assert sorted(e["id"] for e in side.of("handled")) == MESSAGES
    assert admin.exchange(names.exchange)["type"] == "topic"
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("faststream_hare") and r.levelno >= logging.WARNING
    ]
    assert len(warnings) == 1, warnings
    assert "exists as topic" in warnings[0]
    assert "declare it direct" in warnings[0]
