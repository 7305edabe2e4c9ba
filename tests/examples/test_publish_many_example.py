"""examples/publish_many.py runs in memory, on the real broker and under ``faststream run``."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

import pytest

from tests.support.faststream_run import run_app_until
from tests.support.transport import Transport
from tests.support.waiting import eventually

EXPECTED = {"ok": 200, "duplicate": 1}


def fresh() -> ModuleType:
    sys.modules.pop("examples.publish_many", None)
    return importlib.import_module("examples.publish_many")


async def test_the_publish_many_example(transport: Transport) -> None:
    example = fresh()
    async with transport.running(example.broker):
        assert await example.issue_invoices() == EXPECTED
        await eventually(lambda: len(example.billed) == 200)
        if transport.rabbit:
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
