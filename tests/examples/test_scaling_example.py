"""examples/scaling.py runs in memory and against the real broker."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from faststream.rabbit import TestRabbitBroker

from faststream_hare import signals
from tests.support.rabbit_admin import RabbitAdmin
from tests.support.waiting import eventually


@pytest.fixture
def scaling_example(admin: RabbitAdmin) -> Iterator[Any]:
    admin.delete_prefix("hare_demo.scaling")
    sys.modules.pop("examples.scaling", None)
    import examples.scaling as example

    yield example
    admin.delete_prefix("hare_demo.scaling")


async def test_scaling_example_in_memory(scaling_example: Any) -> None:
    async with TestRabbitBroker(scaling_example.broker) as broker:
        await scaling_example.submit_jobs(5, seconds=0)
        await broker.publish({"name": "daily"}, scaling_example.REPORTS)
        assert await scaling_example.handle_a_rush() == [
            f"{scaling_example.JOBS}.W1",
            f"{scaling_example.JOBS}.W2",
            f"{scaling_example.JOBS}.W3",
        ]
    assert sorted(scaling_example.done) == [0, 1, 2, 3, 4]
    assert scaling_example.reports == ["daily"]


@pytest.mark.rabbit
async def test_scaling_example_on_the_real_broker(scaling_example: Any) -> None:
    events: list[dict[str, Any]] = []

    def record(sender: Any, *, measurements: dict[str, Any], metadata: dict[str, Any]) -> None:
        events.append(metadata)

    signals.auto_scaler_scaled.connect(record)
    broker = scaling_example.broker
    try:
        await broker.start()
        try:
            await scaling_example.start_work()  # what FastStream runs after startup
            await eventually(lambda: any(e["to"] > 2 for e in events), timeout=10)
            await eventually(lambda: len(scaling_example.done) == 60, timeout=20)
            await broker.publish({"name": "daily"}, scaling_example.REPORTS)
            await eventually(lambda: scaling_example.reports == ["daily"])
            reports_pool = broker.consumer_pool(scaling_example.REPORTS)
            assert reports_pool.active_consumers() == [f"{scaling_example.REPORTS}.W1"]
        finally:
            await broker.stop()
    finally:
        signals.auto_scaler_scaled.disconnect(record)
    assert sorted(scaling_example.done) == list(range(60))
