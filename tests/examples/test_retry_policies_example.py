"""The retry-policy and idempotency examples run, in memory and on the real broker/Redis."""

from __future__ import annotations

import importlib
import sys
import uuid
from types import ModuleType
from typing import Any

import pytest
from faststream.rabbit import TestRabbitBroker

from faststream_hare import HareSettings
from tests.support.amqp import wait_depth
from tests.support.rabbit_admin import REDIS_URL
from tests.support.transport import Transport
from tests.support.waiting import eventually


def fresh(name: str) -> ModuleType:
    """Import an example anew, so module-level state starts clean."""
    sys.modules.pop(name, None)
    return importlib.import_module(name)


async def test_the_retry_policies_example(transport: Transport) -> None:
    example = fresh("examples.retry_policies")
    example.api_failures_left = 3  # two runs of the first delivery, then one delayed retry
    async with transport.running(example.broker):
        await example.broker.publish({"id": 1, "address": "Main St 1"}, "hare_demo.shipments")
        await example.broker.publish({"id": 2}, queue="hare_demo.shipments")
        await eventually(lambda: len(example.shipped) == 1, timeout=20)
        [dead] = await transport.dead(example.broker, "hare_demo.shipments", 1)
    assert example.shipped == [{"id": 1, "address": "Main St 1"}]
    assert example.api_failures_left == 0
    assert dead.json() == {"id": 2}
    assert dead.headers["hare-reason"] == "unrecoverable"
    assert dead.headers["hare-exception"] == "KeyError"


async def test_idempotency_example_in_memory() -> None:
    example = fresh("examples.idempotency")
    async with TestRabbitBroker(example.broker):
        await example.pay_twice("p-1")
        await example.pay_twice("p-2")
    assert example.charges == ["p-1", "p-2"]


@pytest.mark.rabbit
@pytest.mark.redis
@pytest.mark.usefixtures("demo_entities")
async def test_idempotency_example_with_redis(duplicates: list[dict[str, Any]]) -> None:
    example = fresh("examples.idempotency")
    example.broker.settings = HareSettings(dedup_url=REDIS_URL)
    payment_id = f"p-{uuid.uuid4().hex}"  # Redis remembers ids for a day: a new one per run
    async with example.broker:
        await example.broker.start()
        await example.pay_twice(payment_id)
        await eventually(lambda: [d["message_id"] for d in duplicates] == [payment_id])
        await wait_depth("hare_demo.charges", 0)
    assert example.charges == [payment_id]
