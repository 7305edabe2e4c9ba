"""examples/observability.py on the real broker: /metrics shows hare's and FastStream's metrics."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from types import ModuleType

import httpx
import pytest
from opentelemetry.trace import SpanKind

from tests.support.waiting import eventually

pytestmark = [pytest.mark.rabbit, pytest.mark.usefixtures("demo_entities")]


@pytest.fixture
def example() -> Iterator[ModuleType]:
    """The example imported anew (module-level registry, metrics and tracing start clean)."""
    sys.modules.pop("examples.observability", None)
    module = importlib.import_module("examples.observability")
    yield module
    module.metrics.close()
    module.tracing.close()


async def run(example: ModuleType) -> None:
    async with example.broker:
        await example.broker.start()
        await example.send_invoices()
        await eventually(lambda: example.attempts == {1: 2, 2: 2}, timeout=20)


async def test_metrics_endpoint_after_retries(example: ModuleType) -> None:
    await run(example)
    transport = httpx.ASGITransport(app=example.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    lines = response.text.splitlines()
    assert 'hare_retries_total{delay_ms="200",queue="hare_demo.invoices"} 2.0' in lines
    assert any(line.startswith("faststream_received_messages_total{") for line in lines)


async def test_process_spans_carry_the_retry_story(example: ModuleType) -> None:
    await run(example)

    def outcomes() -> list[object]:
        return sorted(
            str((span.attributes or {}).get("hare.outcome"))
            for span in example.spans.get_finished_spans()
            if span.kind is SpanKind.CONSUMER and span.name.endswith(" process")
        )

    await eventually(lambda: len(outcomes()) == 4)
    assert outcomes() == ["acked", "acked", "retried", "retried"]
    delays = [
        (span.attributes or {}).get("hare.delay_ms")
        for span in example.spans.get_finished_spans()
        if (span.attributes or {}).get("hare.outcome") == "retried"
    ]
    assert delays == [200, 200]
