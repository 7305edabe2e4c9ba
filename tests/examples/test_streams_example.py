"""examples/streams.py runs in memory and against the real broker (stream protocol)."""

from __future__ import annotations

import importlib
import json
import sys
from types import ModuleType

import aio_pika
import pytest
from faststream.rabbit import TestRabbitBroker

from faststream_hare.testing import dead_letters
from tests.support.amqp import wait_depth
from tests.support.rabbit_admin import AMQP_URL
from tests.support.waiting import eventually

ORDERS = [
    {"id": 1, "status": "created", "total": 30},
    {"id": 1, "status": "paid", "total": 30},
    {"id": 2, "status": "created", "total": -5},
]


def fresh() -> ModuleType:
    """Import the example anew, so its module-level state starts clean."""
    sys.modules.pop("examples.streams", None)
    return importlib.import_module("examples.streams")


async def test_streams_example_in_memory() -> None:
    example = fresh()
    async with TestRabbitBroker(example.broker):
        await example.publish_orders(*ORDERS)

    assert example.audit_log == ORDERS[:2]
    assert example.dashboard == ["order 1: created", "order 1: paid", "order 2: created"]
    [dead] = dead_letters(example.broker, example.EVENTS)
    assert dead.json() == ORDERS[2]
    assert dead.headers["hare-exception"] == "ValueError"


@pytest.mark.rabbit
@pytest.mark.usefixtures("demo_entities")
async def test_streams_example_replays_resumes_and_dead_letters() -> None:
    example = fresh()
    async with example.broker as broker:
        await broker.start()
        await example.seed()  # what FastStream runs after startup
        await eventually(lambda: len(example.audit_log) == 2 and len(example.dashboard) == 3)
        await wait_depth(f"{example.EVENTS}.dead", 1)

    # the app is down, events keep arriving; the restarted audit resumes right after its last
    await publish_while_down(example.EXCHANGE, {"id": 3, "status": "created", "total": 12})
    restarted = fresh()
    async with restarted.broker as broker:
        await broker.start()
        await restarted.publish_orders({"id": 4, "status": "created", "total": 7})
        await eventually(lambda: len(restarted.audit_log) == 2)
        await eventually(lambda: len(restarted.dashboard) == 1)

    assert example.audit_log == ORDERS[:2]
    assert [event["id"] for event in restarted.audit_log] == [3, 4]
    assert restarted.dashboard == ["order 4: created"]  # "next": only what came after start


async def publish_while_down(exchange: str, order: dict[str, object]) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        target = await channel.get_exchange(exchange, ensure=False)
        body = json.dumps(order).encode()
        await target.publish(
            aio_pika.Message(body, content_type="application/json"), routing_key="order.created"
        )
    finally:
        await connection.close()
