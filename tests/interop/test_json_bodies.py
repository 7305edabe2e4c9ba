"""JSON bodies both ways: HareMq's ``publish_message/1`` to a hare handler, and hare's
``publish_message`` to a HareMq ``consume/1``; each side gets the same objects, once each."""

from __future__ import annotations

import json
from typing import Any

import pytest
from faststream.rabbit.annotations import RabbitMessage

from faststream_hare import HareBroker, HareSettings, PublishResult
from tests.interop.haremq import (
    HAREMQ_DEAD_TTL_MS,
    HareMqBuild,
    Names,
    consumer_args,
    publisher_args,
    run_elixir_side,
)
from tests.support.amqp import depths
from tests.support.waiting import eventually

pytestmark = [pytest.mark.interop, pytest.mark.rabbit]

RETRY_LIMIT = 2
DELAY_MS = 500
BODIES: list[dict[str, Any]] = [
    {"id": "b1", "n": 1, "nested": {"list": [1, "two", None], "ok": True}},
    {"id": "b2", "text": "héllo ✓ 日本"},
    {"id": "b3", "price": 3.5, "empty": {}, "none": None},
]


def by_id(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: str(item["id"]))


async def test_haremq_publisher_to_hare_consumer(
    names: Names, broker_url: str, haremq: HareMqBuild
) -> None:
    broker = HareBroker(broker_url, settings=HareSettings(message_ttl_ms=HAREMQ_DEAD_TTL_MS))
    got: list[dict[str, Any]] = []
    content_types: list[str | None] = []

    @broker.subscriber(
        names.queue,
        exchange=names.exchange,
        routing_key=names.routing_key,
        retry_limit=RETRY_LIMIT,
        delay_in_ms=DELAY_MS,
    )
    async def handle(body: dict[str, Any], message: RabbitMessage) -> None:
        got.append(body)
        content_types.append(message.content_type)

    async with broker:
        await broker.start()
        args = publisher_args(
            names.queue, exchange=names.exchange, routing_key=names.routing_key, bodies=BODIES
        )
        async with run_elixir_side(haremq, *args) as side:
            assert await side.wait_exit(timeout=60) == 0
        assert [e["result"] for e in side.of("published")] == ["ok"] * len(BODIES)
        await eventually(lambda: len(got) >= len(BODIES))
        queues = (names.queue, f"{names.queue}.delay", f"{names.queue}.dead")
        assert await depths(*queues) == dict.fromkeys(queues, 0)

    assert by_id(got) == by_id(BODIES)
    assert content_types == ["application/json"] * len(BODIES)


async def test_hare_publish_message_to_haremq_consumer(
    names: Names, broker_url: str, haremq: HareMqBuild
) -> None:
    args = consumer_args(
        names.queue,
        exchange=names.exchange,
        routing_key=names.routing_key,
        retry_limit=RETRY_LIMIT,
        delay_ms=DELAY_MS,
    )
    async with run_elixir_side(haremq, *args) as side:
        await side.wait_for("ready", role="consumer")
        broker = HareBroker(broker_url)
        publisher = broker.publisher(
            exchange=names.exchange, routing_key=names.routing_key, hare=True
        )
        async with broker:
            await broker.start()
            results = [await publisher.publish_message(body) for body in BODIES]
            for body in BODIES:
                await side.wait_for("handled", id=body["id"])
        queues = (names.queue, f"{names.queue}.delay", f"{names.queue}.dead")
        assert await depths(*queues) == dict.fromkeys(queues, 0)

    assert results == [PublishResult.OK] * len(BODIES)
    handled = side.of("handled")
    assert by_id([e["message"] for e in handled]) == by_id(BODIES)
    assert all(e["message_is_map"] and e["result"] == "ok" for e in handled)
    deliveries = side.of("deliver")
    assert len(deliveries) == len(BODIES)
    assert all(d["retry_count"] == 0 for d in deliveries)
    assert all(d["content_type"] == "application/json" for d in deliveries)
    assert by_id([json.loads(d["payload"]) for d in deliveries]) == by_id(BODIES)
