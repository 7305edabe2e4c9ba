"""examples/publish_many.py runs in memory, on the real broker and under ``faststream run``."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

import pytest
from faststream.rabbit import TestRabbitBroker

from tests.support.faststream_run import run_app_until
from tests.support.waiting import eventually

EXPECTED = {"ok": 200, "duplicate": 1}


def fresh() -> ModuleType:
    sys.modules.pop("examples.publish_many", None)
    return importlib.import_module("examples.publish_many")


async def test_publish_many_example_in_memory() -> None:
    example = fresh()
    async with TestRabbitBroker(example.broker):
        assert await example.issue_invoices() == EXPECTED
    assert sorted(example.billed) == list(range(1, 201))


@pytest.mark.rabbit
@pytest.mark.usefixtures("demo_entities")
async def test_publish_many_example_on_the_real_broker() -> None:
    example = fresh()
    async with example.broker:
        await example.broker.start()
        assert await example.issue_invoices() == EXPECTED
        await eventually(lambda: len(example.billed) == 200)
        await example.broker.dedup_stores.aclose()
    assert sorted(example.billed) == list(range(1, 201))


@pytest.mark.rabbit
@pytest.mark.usefixtures("demo_entities")
def test_publish_many_example_runs_under_faststream_run() -> None:
    output, code = run_app_until(
        "examples.publish_many:app", lambda out: "billed 200 invoices" in out
    )
    assert "published: {'ok': 200, 'duplicate': 1} to retry: 0" in output, output
    assert "billed 200 invoices" in output
    assert code == 0, output
