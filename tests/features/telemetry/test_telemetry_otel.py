"""HareTracing and the traceparent helpers, with signals sent by hand (pure)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from faststream_hare import signals
from faststream_hare.telemetry.otel import (
    FIRST_TRACEPARENT_HEADER,
    HareTracing,
    first_traceparent,
    parse_traceparent,
    traceparent_of,
)

SENDER = object()
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


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
    tracing = HareTracing(tracer_provider=provider, broker=SENDER)
    yield tracing
    tracing.close()


def send(signal: Any, measurements: dict[str, Any], metadata: dict[str, Any]) -> None:
    signals.emit(signal, SENDER, measurements, metadata)


def start(key: str, **extra: Any) -> dict[str, Any]:
    metadata = {"queue": "q", "exchange": None, "routing_key": "q", "telemetry_span_context": key}
    send(signals.consumer_message_start, {}, {**metadata, **extra})
    return metadata


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    [span] = exporter.get_finished_spans()
    return span


def test_traceparent_round_trip() -> None:
    span_context = parse_traceparent(TRACEPARENT)
    assert span_context is not None
    assert span_context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert traceparent_of(span_context) == TRACEPARENT
    assert parse_traceparent(TRACEPARENT.encode()) == span_context
    assert parse_traceparent("garbage") is None
    assert parse_traceparent(None) is None


def test_first_traceparent_keeps_the_header_else_takes_the_current_span(
    provider: TracerProvider,
) -> None:
    assert first_traceparent({FIRST_TRACEPARENT_HEADER: TRACEPARENT}) == TRACEPARENT
    assert first_traceparent({FIRST_TRACEPARENT_HEADER: TRACEPARENT.encode()}) == TRACEPARENT
    assert first_traceparent({}) is None  # no span: tracing is off
    with provider.get_tracer("t").start_as_current_span("first attempt") as span:
        expected = traceparent_of(span.get_span_context())
        assert first_traceparent({"retry_count": 0}) == expected
        assert first_traceparent({FIRST_TRACEPARENT_HEADER: "bad"}) == expected


@pytest.mark.usefixtures("tracing")
def test_own_span_for_an_acked_message(exporter: InMemorySpanExporter) -> None:
    metadata = start("a", retry_count=0)
    assert trace.get_current_span().is_recording()  # handler spans become its children
    send(signals.consumer_message_stop, {}, {**metadata, "result": "ok"})
    span = only_span(exporter)
    assert span.name == "q process"
    assert span.kind is SpanKind.CONSUMER
    assert dict(span.attributes or {}) == {
        "messaging.system": "rabbitmq",
        "messaging.operation": "process",
        "messaging.destination.name": "q",
        "messaging.rabbitmq.destination.routing_key": "q",
        "hare.retry_count": 0,
        "hare.outcome": "acked",
    }
    assert not trace.get_current_span().is_recording()


@pytest.mark.usefixtures("tracing")
def test_own_span_for_a_retry_links_to_the_first_attempt(exporter: InMemorySpanExporter) -> None:
    metadata = start("b", retry_count=1, first_traceparent=TRACEPARENT)
    send(signals.consumer_message_exception, {}, {**metadata, "reason": KeyError("gone")})
    send(
        signals.retry_publisher_message_retried,
        {"retry_count": 2, "delay_ms": 500},
        {"queue": "q", "delay_queue": "q.delay.500"},
    )
    send(signals.consumer_message_stop, {}, {**metadata, "result": "error"})
    span = only_span(exporter)
    assert span.attributes is not None
    assert span.attributes["hare.outcome"] == "retried"
    assert span.attributes["hare.retry_count"] == 1
    assert span.attributes["hare.delay_ms"] == 500
    assert [event.name for event in span.events] == ["exception"]
    [link] = span.links
    assert traceparent_of(link.context) == TRACEPARENT


@pytest.mark.usefixtures("tracing")
def test_dead_letter_outcomes(exporter: InMemorySpanExporter) -> None:
    for key, reason in (("c", "retries_exhausted"), ("d", "poison"), ("e", "no_handler")):
        metadata = start(key)
        send(
            signals.retry_publisher_message_dead_lettered,
            {"retry_count": 3},
            {"queue": "q", "dead_queue": "q.dead", "exception": "E", "reason": reason},
        )
        send(signals.consumer_message_stop, {}, {**metadata, "result": "error"})
    spans = exporter.get_finished_spans()
    outcomes = [(span.attributes or {})["hare.outcome"] for span in spans]
    assert outcomes == ["dead_lettered", "poison", "poison"]
    assert [(span.attributes or {})["hare.retry_count"] for span in spans] == [3, 3, 3]


@pytest.mark.usefixtures("tracing")
def test_requeued_outcome_from_the_stop_signal(exporter: InMemorySpanExporter) -> None:
    metadata = start("e")
    send(signals.consumer_message_stop, {}, {**metadata, "result": "error", "outcome": "requeued"})
    attributes = only_span(exporter).attributes or {}
    assert attributes["hare.outcome"] == "requeued"


@pytest.mark.usefixtures("tracing")
def test_annotates_a_current_consumer_span_instead_of_starting_one(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracer = provider.get_tracer("faststream-like")
    with tracer.start_as_current_span("q process", kind=SpanKind.CONSUMER):
        metadata = start("f", retry_count=2, first_traceparent=TRACEPARENT)
        send(signals.consumer_message_stop, {}, {**metadata, "result": "ok"})
    span = only_span(exporter)
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "faststream-like"
    assert (span.attributes or {})["hare.outcome"] == "acked"
    assert (span.attributes or {})["hare.retry_count"] == 2
    assert [traceparent_of(link.context) for link in span.links] == [TRACEPARENT]


def test_close_stops_listening(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    tracing = HareTracing(tracer_provider=provider, broker=SENDER)
    tracing.close()
    start("g")
    assert not trace.get_current_span().is_recording()
    assert exporter.get_finished_spans() == ()


@pytest.mark.usefixtures("tracing")
def test_a_stop_sent_before_the_copy_signal_is_finished_by_it(
    exporter: InMemorySpanExporter,
) -> None:
    metadata = start("h")
    send(signals.consumer_message_stop, {}, {**metadata, "result": "error"})
    assert exporter.get_finished_spans() == ()  # waits for retried / dead_lettered
    assert first_traceparent({}) is not None  # still current while the copy is made
    send(
        signals.retry_publisher_message_retried,
        {"retry_count": 1},
        {"queue": "q", "delay_queue": "q.delay"},
    )
    attributes = only_span(exporter).attributes or {}
    assert attributes["hare.outcome"] == "retried"
    assert attributes["hare.retry_count"] == 0
    assert not trace.get_current_span().is_recording()


@pytest.mark.usefixtures("tracing")
def test_credentials_never_reach_a_span(exporter: InMemorySpanExporter) -> None:
    metadata = start("i")
    error = ConnectionError("cannot reach amqp://app:s3cret@rabbit:5672/")
    send(signals.consumer_message_exception, {}, {**metadata, "reason": error})
    send(signals.consumer_message_stop, {}, {**metadata, "result": "error", "outcome": "requeued"})
    span = only_span(exporter)
    assert "s3cret" not in repr(span.to_json())
    [event] = span.events
    assert "app:***@rabbit" in str((event.attributes or {})["exception.message"])


@pytest.mark.usefixtures("tracing")
def test_a_requeued_copy_finishes_a_stopped_span(exporter: InMemorySpanExporter) -> None:
    metadata = start("j")
    send(signals.consumer_message_stop, {}, {**metadata, "result": "error"})
    send(
        signals.retry_publisher_message_requeued,
        {"pause_ms": 500},
        {"queue": "q", "target": "q.delay", "reason": "nacked"},
    )
    assert (only_span(exporter).attributes or {})["hare.outcome"] == "requeued"
