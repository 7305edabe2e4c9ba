"""examples/fastapi_app.py runs on the real broker (FastAPI's lifespan) and in memory."""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
from types import ModuleType

import pytest
from fastapi.testclient import TestClient
from faststream.rabbit import TestRabbitBroker

from faststream_hare import PublishResult
from faststream_hare.testing import dead_letters
from tests.support.pools import queue_state


def fresh() -> ModuleType:
    sys.modules.pop("examples.fastapi_app", None)
    return importlib.import_module("examples.fastapi_app")


def dead_count() -> int:
    return asyncio.run(queue_state("hare_demo.shipments.dead")).ready


@pytest.mark.rabbit
@pytest.mark.usefixtures("demo_entities")
def test_fastapi_example_on_the_real_broker() -> None:
    example = fresh()
    with TestClient(example.app) as client:
        assert client.post("/shipments", json={"id": 1, "address": "Main St 1"}).json() == {
            "result": "ok"
        }
        assert client.post("/shipments", json={"id": 2}).json() == {"result": "ok"}
        deadline = time.monotonic() + 15
        while dead_count() != 1 or not example.shipped:
            assert time.monotonic() < deadline, "shipment 2 never reached the dead queue"
            time.sleep(0.05)
    assert example.shipped == [{"id": 1, "address": "Main St 1", "carrier": "hare-express"}]
    assert dead_count() == 1


async def test_fastapi_example_in_memory() -> None:
    example = fresh()
    async with TestRabbitBroker(example.router.broker):
        assert await example.shipments.publish_message({"id": 1, "address": "x"}) is (
            PublishResult.OK
        )
        assert await example.shipments.publish_message({"id": 2}) is PublishResult.OK
    assert [s["id"] for s in example.shipped] == [1]
    [dead] = dead_letters(example.router.broker, "hare_demo.shipments")
    assert dead.json() == {"id": 2}
