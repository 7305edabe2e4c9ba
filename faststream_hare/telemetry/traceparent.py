"""W3C ``traceparent`` values: a span context to text and back, and the first attempt's one.

A retry copy carries its message's first attempt's span context (``hare-first-traceparent``)
so every later attempt's span can link to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from faststream_hare._internal.extras import missing_extra

try:
    from opentelemetry import trace
    from opentelemetry.trace import SpanContext
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
except ModuleNotFoundError as exc:
    raise missing_extra(__name__, exc) from None

from faststream_hare.contract.headers import FIRST_TRACEPARENT_HEADER

_PROPAGATOR = TraceContextTextMapPropagator()


def traceparent_of(span_context: SpanContext) -> str | None:
    """The W3C ``traceparent`` of ``span_context``; ``None`` when it is not valid."""
    if not span_context.is_valid:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(
        carrier, context=trace.set_span_in_context(trace.NonRecordingSpan(span_context))
    )
    return carrier.get("traceparent")


def parse_traceparent(value: object) -> SpanContext | None:
    """The span context of a ``traceparent`` value (``str`` or ``bytes``); ``None`` if invalid."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    span_context = trace.get_current_span(
        _PROPAGATOR.extract({"traceparent": value})
    ).get_span_context()
    return span_context if span_context.is_valid else None


def first_traceparent(headers: Mapping[str, Any] | None) -> str | None:
    """The ``hare-first-traceparent`` value a retry copy of this message must carry.

    The incoming header when the message is already a retry; otherwise the current span (the
    first attempt's process span); ``None`` when there is neither (tracing is off).
    """
    existing = (headers or {}).get(FIRST_TRACEPARENT_HEADER)
    if parse_traceparent(existing) is not None:
        return existing.decode("ascii") if isinstance(existing, bytes) else str(existing)
    return traceparent_of(trace.get_current_span().get_span_context())
