"""HareTracing on the real broker, with the OpenTelemetry SDK's in-memory exporter.

Without FastStream's ``RabbitTelemetryMiddleware`` hare starts a process span per delivery;
with it, hare annotates FastStream's process span and starts none of its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from faststream.rabbit.opentelemetry import RabbitTelemetryMiddleware
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from faststream_hare import HareBroker, HareSettings
from faststream_hare.telemetry.otel import FASTSTREAM_SCOPE, HareTracing
from tests.support.amqp import wait_depth
from tests.support.pools import running
from tests.support.rabbit_admin import AMQP_URL
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit

NEEDS_LEAD = (
    "needs the retry path (lead): `retry_count` and `first_traceparent` in consumer.message.start "
    "metadata, and the hare-first-traceparent header on retry copies"
)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


@pytest.fixture
def tracing(provider: TracerProvider) -> Iterator[HareTracing]:
    tracing = HareTracing(tracer_provider=provider)
    yield tracing
    tracing.close()


def make_broker(prefix: str, provider: TracerProvider | None = None) -> HareBroker:
    middlewares = () if provider is None else (RabbitTelemetryMiddleware(tracer_provider=provider),)
    return HareBroker(
        f"{AMQP_URL.rstrip('/')}/?name={prefix}",
        settings=HareSettings(reconnect_interval_ms=300),
        middlewares=middlewares,
        logger=None,
    )


def process_spans(exporter: InMemorySpanExporter, queue: str) -> list[ReadableSpan]:
    """Finished process spans of ``queue`` (hare's or FastStream's), in the order they ended."""
    return [
        span
        for span in exporter.get_finished_spans()
        if span.kind is SpanKind.CONSUMER
        and span.name.endswith(" process")
        and attrs(span).get("messaging.rabbitmq.destination.routing_key") == queue
    ]


def attrs(span: ReadableSpan) -> dict[str, object]:
    return dict(span.attributes or {})


@pytest.mark.usefixtures("tracing")
async def test_an_acked_message_gets_a_hare_process_span_around_the_handler(
    prefix: str, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    queue = f"{prefix}.orders"
    broker = make_broker(prefix)
    tracer = provider.get_tracer("app")

    @broker.subscriber(queue, hare=True)
    async def handle(body: str) -> None:
        with tracer.start_as_current_span("charge card"):
            pass

    async with running(broker):
        await broker.publish("x", queue=queue)
        await eventually(lambda: len(process_spans(exporter, queue)) == 1)
    [span] = process_spans(exporter, queue)
    [child] = [s for s in exporter.get_finished_spans() if s.name == "charge card"]
    assert attrs(span)["hare.outcome"] == "acked"
    assert attrs(span)["messaging.destination.name"] == queue
    assert child.parent is not None
    assert child.parent.span_id == span.context.span_id


@pytest.mark.usefixtures("tracing")
async def test_own_spans_of_a_retried_message_link_to_the_first_attempt(
    prefix: str, exporter: InMemorySpanExporter
) -> None:
    queue = f"{prefix}.orders"
    broker = make_broker(prefix)
    attempts: list[int] = []

    @broker.subscriber(queue, retry_limit=3, delay_cascade_in_ms=[50, 80])
    async def handle(body: str) -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise TimeoutError("bank")

    async with running(broker):
        await broker.publish("x", queue=queue)
        await eventually(lambda: len(process_spans(exporter, queue)) == 3, timeout=20)
    first, second, third = process_spans(exporter, queue)
    assert [attrs(s)["hare.outcome"] for s in (first, second, third)] == [
        "retried",
        "retried",
        "acked",
    ]
    assert [attrs(s)["hare.retry_count"] for s in (first, second, third)] == [0, 1, 2]
    assert [attrs(s).get("hare.delay_ms") for s in (first, second, third)] == [50, 80, None]
    assert first.links == ()
    for later in (second, third):
        [link] = later.links
        assert link.context.span_id == first.context.span_id
        assert link.context.trace_id == first.context.trace_id
    assert [event.name for event in first.events] == ["exception"]


@pytest.mark.usefixtures("tracing")
async def test_dead_lettered_and_poison_outcomes(
    prefix: str, exporter: InMemorySpanExporter
) -> None:
    failing, typed = f"{prefix}.failing", f"{prefix}.typed"
    broker = make_broker(prefix)

    @broker.subscriber(failing, retry_limit=0)
    async def fail(body: str) -> None:
        raise KeyError("customer")

    @broker.subscriber(typed, retry_limit=5)
    async def needs_a_dict(body: dict[str, int]) -> None:
        pass

    async with running(broker):
        await broker.publish("x", queue=failing)
        await broker.publish(b"not json", queue=typed)
        await wait_depth(f"{failing}.dead", 1, timeout=20)
        await wait_depth(f"{typed}.dead", 1, timeout=20)
        await eventually(lambda: len(process_spans(exporter, typed)) == 1)
    [dead] = process_spans(exporter, failing)
    [poison] = process_spans(exporter, typed)
    assert attrs(dead)["hare.outcome"] == "dead_lettered"
    assert attrs(poison)["hare.outcome"] == "poison"


@pytest.mark.usefixtures("tracing")
async def test_faststream_process_spans_are_annotated_and_linked(
    prefix: str, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    queue = f"{prefix}.orders"
    broker = make_broker(prefix, provider)
    attempts: list[int] = []

    @broker.subscriber(queue, retry_limit=2, delay_in_ms=50)
    async def handle(body: str) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise TimeoutError("bank")

    async with running(broker):
        await broker.publish("x", queue=queue)
        await eventually(lambda: len(process_spans(exporter, queue)) == 2, timeout=20)
    first, second = process_spans(exporter, queue)
    for span in (first, second):
        assert span.instrumentation_scope is not None
        assert span.instrumentation_scope.name == FASTSTREAM_SCOPE  # hare started none
    assert attrs(first)["hare.outcome"] == "retried"
    assert attrs(first)["hare.delay_ms"] == 50
    assert attrs(first)["hare.retry_count"] == 0
    assert attrs(second)["hare.outcome"] == "acked"
    assert attrs(second)["hare.retry_count"] == 1
    assert [link.context.span_id for link in second.links] == [first.context.span_id]
