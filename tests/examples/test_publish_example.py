"""examples/publishing.py runs in memory, on the real broker and under ``faststream run``."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

from faststream_hare import PublishResult
from tests.support.faststream_run import run_app_until
from tests.support.transport import Transport
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = [PublishResult.OK, PublishResult.DUPLICATE, PublishResult.OK]


def fresh() -> ModuleType:
    sys.modules.pop("examples.publishing", None)
    return importlib.import_module("examples.publishing")


async def test_the_publishing_example(transport: Transport) -> None:
    example = fresh()
    async with transport.running(example.broker):
        assert await example.place_orders() == EXPECTED
        await eventually(lambda: len(example.shipped) == 2)
        if transport.rabbit:
            await example.broker.dedup_stores.aclose()
    assert [o["order_id"] for o in example.shipped] == [1, 2]


@pytest.mark.rabbit
@pytest.mark.usefixtures("demo_entities")
def test_publishing_example_runs_under_faststream_run() -> None:
    output, code = run_app_until(
        "examples.publishing:app", lambda out: out.count("shipping order") >= 2
    )
    assert "published: ['ok', 'duplicate', 'ok']" in output, output
    assert "shipping order 1" in output
    assert "shipping order 2" in output
    assert code == 0, output
