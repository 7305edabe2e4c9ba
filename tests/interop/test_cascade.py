"""The same ascending cascade on both sides: the same delay queues, the same queue per retry."""

from __future__ import annotations

from typing import Any

import pytest
from faststream.rabbit.annotations import RabbitMessage

from faststream_hare import HareBroker, HareSettings, signals
from tests.interop.haremq import (
    HAREMQ_DEAD_TTL_MS,
    HareMqBuild,
    Names,
    consumer_args,
    run_elixir_side,
)
from tests.interop.raw_amqp import publish_raw
from tests.support.rabbit_admin import RabbitAdmin
from tests.support.waiting import eventually

pytestmark = [pytest.mark.interop, pytest.mark.rabbit]

RETRY_LIMIT = 2
CASCADE = (300, 600)


async def test_both_sides_retry_through_the_same_cascade_queue(
    names: Names, prefix: str, broker_url: str, haremq: HareMqBuild, admin: RabbitAdmin
) -> None:
    args = consumer_args(
        names.queue,
        exchange=names.exchange,
        routing_key=names.routing_key,
        retry_limit=RETRY_LIMIT,
        delay_cascade=CASCADE,
    )
    async with run_elixir_side(haremq, *args) as side:
        await side.wait_for("ready", role="consumer")
        await publish_raw(names, {"id": "on-haremq", "fail_elixir": 1}, message_id="on-haremq")
        await side.wait_for("handled", id="on-haremq", attempt=2)
    haremq_retries = [e["meta"]["delay_queue"] for e in side.of("retried")]
    assert [(e["attempt"], e["result"]) for e in side.of("handled")] == [(1, "error"), (2, "ok")]

    broker = HareBroker(broker_url, settings=HareSettings(message_ttl_ms=HAREMQ_DEAD_TTL_MS))
    hare_saw: list[Any] = []
    hare_retries: list[str] = []

    @broker.subscriber(
        names.queue,
        exchange=names.exchange,
        routing_key=names.routing_key,
        retry_limit=RETRY_LIMIT,
        delay_cascade_in_ms=list(CASCADE),
    )
    async def handle(body: dict[str, Any], message: RabbitMessage) -> None:
        hare_saw.append(message.headers.get("retry_count"))
        if len(hare_saw) == 1:
            raise RuntimeError("fails once on hare")

    def on_retried(sender: object, measurements: dict[str, Any], metadata: dict[str, Any]) -> None:
        hare_retries.append(metadata["delay_queue"])

    signals.retry_publisher_message_retried.connect(on_retried)
    try:
        async with broker:
            await broker.start()  # HareMq's cascade queues are what hare declares
            await broker.publish(
                {"id": "on-hare"}, exchange=names.exchange, routing_key=names.routing_key
            )
            await eventually(lambda: len(hare_saw) == 2)
    finally:
        signals.retry_publisher_message_retried.disconnect(on_retried)

    first_delay_queue = f"{names.queue}.delay.{CASCADE[0]}"
    assert haremq_retries == hare_retries == [first_delay_queue]
    assert hare_saw == [None, 1]
    expected = {names.queue, f"{names.queue}.dead"} | {
        f"{names.queue}.delay.{ms}" for ms in CASCADE
    }
    assert {q["name"] for q in admin.queues(prefix)} == expected
