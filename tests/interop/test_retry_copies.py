"""Retry copies cross over: each side reads the other's ``retry_count`` (an AMQP long).

One side fails a message once and puts a copy in ``Q.delay``; it stops before the delay runs
out, so the copy comes back to ``Q`` for the other side, which counts it as retry 1.
``HANDOVER_DELAY_MS`` only has to outlast stopping a consumer; the tests check the handover
happened (the original is gone from ``Q``, the copy waits in ``Q.delay``) before going on.
"""

from __future__ import annotations

import json
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
from tests.interop.raw_amqp import get_all, publish_raw
from tests.support.amqp import depths, wait_depth
from tests.support.waiting import eventually

pytestmark = [pytest.mark.interop, pytest.mark.rabbit]

RETRY_LIMIT = 1
HANDOVER_DELAY_MS = 3_000


def haremq_consumer(names: Names) -> list[str]:
    return consumer_args(
        names.queue,
        exchange=names.exchange,
        routing_key=names.routing_key,
        retry_limit=RETRY_LIMIT,
        delay_ms=HANDOVER_DELAY_MS,
    )


def hare_broker(broker_url: str) -> HareBroker:
    # graceful_timeout: stopping waits for the handler, so the original is acked before we go on
    return HareBroker(
        broker_url,
        settings=HareSettings(message_ttl_ms=HAREMQ_DEAD_TTL_MS),
        graceful_timeout=10.0,
    )


def queues_of(names: Names) -> tuple[str, str, str]:
    return names.queue, f"{names.queue}.delay", f"{names.queue}.dead"


async def test_haremq_reads_a_hare_retry_copy_as_retry_count_one(
    names: Names, broker_url: str, haremq: HareMqBuild
) -> None:
    broker = hare_broker(broker_url)
    hare_saw: list[tuple[str, Any]] = []
    retried: list[int] = []

    @broker.subscriber(
        names.queue,
        exchange=names.exchange,
        routing_key=names.routing_key,
        retry_limit=RETRY_LIMIT,
        delay_in_ms=HANDOVER_DELAY_MS,
    )
    async def handle(body: dict[str, Any], message: RabbitMessage) -> None:
        hare_saw.append((body["id"], message.headers.get("retry_count")))
        raise RuntimeError("hare fails once; HareMq gets the retry")

    def on_retried(sender: object, measurements: dict[str, Any], metadata: dict[str, Any]) -> None:
        retried.append(measurements["retry_count"])

    signals.retry_publisher_message_retried.connect(on_retried)
    try:
        async with broker:
            await broker.start()
            await broker.publish(
                {"id": "from-hare"},
                exchange=names.exchange,
                routing_key=names.routing_key,
                message_id="from-hare",
            )
            await eventually(lambda: retried == [1])
    finally:
        signals.retry_publisher_message_retried.disconnect(on_retried)
    queue, delay_queue, _ = queues_of(names)
    assert await depths(queue, delay_queue) == {queue: 0, delay_queue: 1}  # handed over

    async with run_elixir_side(haremq, *haremq_consumer(names)) as side:
        await side.wait_for("ready", role="consumer")
        handled = await side.wait_for("handled", id="from-hare")
        await wait_depth(queue, 0)
    deliveries = side.of("deliver")
    assert [d["retry_count"] for d in deliveries] == [1]
    assert deliveries[0]["content_type"] == "application/json"  # hare's copy keeps it
    assert json.loads(deliveries[0]["payload"]) == {"id": "from-hare"}
    assert (handled["attempt"], handled["result"], handled["message"]) == (
        1,
        "ok",
        {"id": "from-hare"},
    )
    assert len(side.of("handled")) == 1
    assert hare_saw == [("from-hare", None)]
    assert await depths(*queues_of(names)) == dict.fromkeys(queues_of(names), 0)


async def test_hare_counts_and_dead_letters_a_haremq_retry_copy(
    names: Names, broker_url: str, haremq: HareMqBuild
) -> None:
    queue, delay_queue, dead_queue = queues_of(names)
    body = {"id": "from-haremq", "fail_elixir": 1}  # HareMq fails its first attempt
    async with run_elixir_side(haremq, *haremq_consumer(names)) as side:
        await side.wait_for("ready", role="consumer")
        await publish_raw(names, body, message_id="from-haremq")
        retried = await side.wait_for("retried")
        await wait_depth(delay_queue, 1)  # HareMq's copy: retry_count 1, no content type
    assert retried["retry_count"] == 1
    assert [(e["id"], e["result"]) for e in side.of("handled")] == [("from-haremq", "error")]
    assert await depths(queue, delay_queue) == {queue: 0, delay_queue: 1}  # handed over

    broker = hare_broker(broker_url)
    hare_saw: list[tuple[Any, Any, Any]] = []
    dead_lettered: list[int] = []

    @broker.subscriber(
        names.queue,
        exchange=names.exchange,
        routing_key=names.routing_key,
        retry_limit=RETRY_LIMIT,
        delay_in_ms=HANDOVER_DELAY_MS,
    )
    async def handle(payload: dict[str, Any], message: RabbitMessage) -> None:
        hare_saw.append((payload, message.headers.get("retry_count"), message.content_type))
        raise RuntimeError("hare fails too")

    def on_dead(sender: object, measurements: dict[str, Any], metadata: dict[str, Any]) -> None:
        dead_lettered.append(measurements["retry_count"])

    signals.retry_publisher_message_dead_lettered.connect(on_dead)
    try:
        async with broker:
            await broker.start()
            await wait_depth(dead_queue, 1, timeout=30)
    finally:
        signals.retry_publisher_message_dead_lettered.disconnect(on_dead)

    # decoded as JSON although HareMq's copy has no content type; counted as retry 1 of 1
    assert hare_saw == [(body, 1, None)]
    assert dead_lettered == [1]
    dead = await get_all(dead_queue)
    assert len(dead) == 1
    assert json.loads(dead[0].body) == body
    assert dead[0].headers["retry_count"] == RETRY_LIMIT + 1
    assert dead[0].headers["hare-exception"] == "RuntimeError"
    # hare keeps a copy's properties; HareMq's copy had already lost them
    assert dead[0].content_type is None
    assert dead[0].message_id != "from-haremq"
    assert await depths(queue, delay_queue) == {queue: 0, delay_queue: 0}
