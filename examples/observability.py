"""Prometheus metrics and OpenTelemetry traces for hare, next to FastStream's own middlewares.

FastStream's middlewares measure and trace every message; ``HareMetrics`` and ``HareTracing``
add what only hare knows: retries, dead letters, pools, ... Create them before the broker
starts. ``/metrics`` serves both sets of metrics from one registry.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from faststream.asgi import AsgiFastStream
from faststream.rabbit.opentelemetry import RabbitTelemetryMiddleware
from faststream.rabbit.prometheus import RabbitPrometheusMiddleware
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry, make_asgi_app

from faststream_hare import HareBroker
from faststream_hare.telemetry.otel import HareTracing
from faststream_hare.telemetry.prometheus import HareMetrics

registry = CollectorRegistry()
spans = InMemorySpanExporter()  # in production: an OTLP exporter in a BatchSpanProcessor
tracer_provider = TracerProvider()
tracer_provider.add_span_processor(SimpleSpanProcessor(spans))

broker = HareBroker(
    middlewares=[
        RabbitPrometheusMiddleware(registry=registry),  # faststream_* metrics
        RabbitTelemetryMiddleware(tracer_provider=tracer_provider),  # process spans
    ]
)
metrics = HareMetrics(registry=registry, broker=broker)  # hare_* metrics
tracing = HareTracing(tracer_provider=tracer_provider, broker=broker)  # hare.* attributes

app = AsgiFastStream(broker, asgi_routes=[("/metrics", make_asgi_app(registry))])

attempts: Counter[int] = Counter()


@broker.subscriber(
    "hare_demo.invoices",
    exchange="hare_demo.billing",
    retry_limit=3,
    delay_cascade_in_ms=[200, 1_000],
)
async def bill(invoice: dict[str, Any]) -> None:
    attempts[invoice["id"]] += 1
    if attempts[invoice["id"]] == 1:
        msg = "payment gateway timed out"
        raise TimeoutError(msg)  # the first attempt fails: one retry after 200 ms


async def send_invoices() -> None:
    for invoice_id in (1, 2):
        await broker.publish(
            {"id": invoice_id}, exchange="hare_demo.billing", routing_key="hare_demo.invoices"
        )
