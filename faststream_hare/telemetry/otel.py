"""OpenTelemetry for hare's retries, fed by the blinker signals.

With FastStream's ``RabbitTelemetryMiddleware`` on the broker, its process span is the current
span while hare's signals run: ``HareTracing`` annotates it. Without it, ``HareTracing`` starts
a process span of its own at ``consumer.message.start`` and ends it at ``stop``. Either way the
span gets ``hare.retry_count``, ``hare.outcome`` and ``hare.delay_ms``, and a retry attempt's
span links to the first attempt's (whose context rides on retry copies in the header
``hare-first-traceparent``; the retry path writes it with ``first_traceparent``).

    tracing = HareTracing(tracer_provider=provider)   # before the broker starts
"""

from __future__ import annotations

import contextvars
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from faststream_hare._internal.extras import missing_extra

try:
    from opentelemetry import context, trace
    from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
except ModuleNotFoundError as exc:
    raise missing_extra(__name__, exc) from None

from faststream_hare._internal.masking import mask_text
from faststream_hare.contract.headers import FIRST_TRACEPARENT_HEADER
from faststream_hare.telemetry import signals
from faststream_hare.telemetry.traceparent import (
    first_traceparent,
    parse_traceparent,
    traceparent_of,
)

__all__ = (
    "FIRST_TRACEPARENT_HEADER",
    "HareTracing",
    "first_traceparent",
    "parse_traceparent",
    "traceparent_of",
)

#: The instrumentation scope of FastStream's ``TelemetryMiddleware`` spans.
FASTSTREAM_SCOPE = "opentelemetry.instrumentation.faststream"
OUTCOMES = ("acked", "retried", "dead_lettered", "poison", "requeued")
#: Failed deliveries stopped before their copy was signalled, kept at most (oldest end first).
MAX_AWAITING_COPY = 1_000


@dataclass
class _Attempt:
    """One delivery being traced: the span, whether hare owns it, and its context token."""

    span: Span
    own: bool
    token: object | None = None
    outcome: str | None = None
    stopped: bool = False


class HareTracing:
    """Listens to hare's signals and annotates (or starts) each delivery's process span.

    ``broker`` limits it to one broker's signals (default: every broker in the process).
    ``close()`` disconnects it.
    """

    def __init__(
        self, tracer_provider: trace.TracerProvider | None = None, *, broker: Any = None
    ) -> None:
        self.tracer = trace.get_tracer("faststream_hare", tracer_provider=tracer_provider)
        self._attempts: dict[str, _Attempt] = {}
        self._current: contextvars.ContextVar[str | None] = contextvars.ContextVar(
            f"hare_tracing_{id(self)}", default=None
        )
        self._listening = signals.Listening(
            [
                (signals.consumer_message_start, self._on_start),
                (signals.consumer_message_exception, self._on_exception),
                (signals.retry_publisher_message_retried, self._on_retried),
                (signals.retry_publisher_message_dead_lettered, self._on_dead_lettered),
                (signals.retry_publisher_message_requeued, self._on_requeued),
                (signals.consumer_message_duplicate, self._on_duplicate),
                (signals.consumer_message_stop, self._on_stop),
                (signals.retry_publisher_message_copying, self._on_copying),
            ],
            broker,
        )

    def close(self) -> None:
        """Stop listening; spans of deliveries still in flight are ended."""
        self._listening.close()
        for attempt in self._attempts.values():
            if attempt.own:
                attempt.span.end()
        self._attempts.clear()

    # -- receivers ---------------------------------------------------------------------------

    def _on_copying(self, sender: Any, measurements: Any, metadata: Mapping[str, Any]) -> None:
        """A retry copy carries the first attempt's span context (for the span link), and the
        span learns where the message is going while it is still open (the copy's confirm
        arrives later, in the background, when FastStream's span may have ended)."""
        headers = metadata.get("headers")
        if isinstance(headers, dict):
            first = first_traceparent(headers)
            if first is not None:
                headers[FIRST_TRACEPARENT_HEADER] = first
        attempt = self._attempt(metadata)
        if attempt is None or attempt.own:  # hare's own span waits for the confirmed outcome
            return
        retry_count = metadata.get("retry_count")
        if isinstance(retry_count, int):
            attempt.span.set_attribute("hare.retry_count", retry_count)
        if metadata.get("action") == "retry":
            attempt.span.set_attribute("hare.outcome", "retried")
            delay = metadata.get("delay_ms")
            if isinstance(delay, int):
                attempt.span.set_attribute("hare.delay_ms", delay)
        else:
            reason = metadata.get("reason")
            outcome = "poison" if reason in ("poison", "no_handler") else "dead_lettered"
            attempt.span.set_attribute("hare.outcome", outcome)
            if isinstance(reason, str):
                attempt.span.set_attribute("hare.dead_letter_reason", reason)
        self._finish_if_stopped(metadata)  # FastStream ends its own span

    def _on_start(self, sender: Any, measurements: Any, metadata: Mapping[str, Any]) -> None:
        key = str(metadata.get("telemetry_span_context"))
        current = trace.get_current_span()
        first = parse_traceparent(metadata.get("first_traceparent"))
        if _is_process_span(current):
            attempt = _Attempt(current, own=False)
            if first is not None and first != current.get_span_context():
                current.add_link(first, {"hare.link": "first_attempt"})
        else:
            queue = str(metadata.get("queue"))
            span = self.tracer.start_span(
                f"{queue} process",
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "rabbitmq",
                    "messaging.operation": "process",
                    "messaging.destination.name": queue,
                    "messaging.rabbitmq.destination.routing_key": str(metadata.get("routing_key")),
                },
                links=[Link(first, {"hare.link": "first_attempt"})] if first else None,
            )
            attempt = _Attempt(span, own=True)
            attempt.token = context.attach(trace.set_span_in_context(span))
        retry_count = metadata.get("retry_count")
        if isinstance(retry_count, int):
            attempt.span.set_attribute("hare.retry_count", retry_count)
        self._attempts[key] = attempt
        self._current.set(key)

    def _on_exception(self, sender: Any, measurements: Any, metadata: Mapping[str, Any]) -> None:
        attempt = self._attempt(metadata)
        if attempt is None:
            return
        reason = metadata.get("reason")
        if isinstance(reason, BaseException):
            message = mask_text(str(reason))  # no credentials in traces, as in logs
            stacktrace = metadata.get("stacktrace")
            if not isinstance(stacktrace, str):  # the signal masked it when it is a str
                stacktrace = mask_text("".join(traceback.format_exception(reason)))
            attempt.span.record_exception(
                reason, {"exception.message": message, "exception.stacktrace": stacktrace}
            )
            attempt.span.set_status(Status(StatusCode.ERROR, f"{type(reason).__name__}: {message}"))

    def _on_retried(
        self, sender: Any, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        attempt = self._attempt(metadata)
        if attempt is None:
            return
        attempt.outcome = "retried"
        attempt.span.set_attribute("hare.retry_count", int(measurements["retry_count"]) - 1)
        delay = measurements.get("delay_ms", metadata.get("delay_ms"))
        if isinstance(delay, int):
            attempt.span.set_attribute("hare.delay_ms", delay)
        attempt.span.set_attribute("hare.outcome", "retried")
        self._finish_if_stopped(metadata)

    def _on_dead_lettered(
        self, sender: Any, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        attempt = self._attempt(metadata)
        if attempt is None:
            return
        reason = metadata.get("reason")
        attempt.outcome = "poison" if reason in ("poison", "no_handler") else "dead_lettered"
        attempt.span.set_attribute("hare.retry_count", int(measurements["retry_count"]))
        attempt.span.set_attribute("hare.outcome", attempt.outcome)
        if isinstance(reason, str):
            attempt.span.set_attribute("hare.dead_letter_reason", reason)
        self._finish_if_stopped(metadata)

    def _on_requeued(self, sender: Any, measurements: Any, metadata: Mapping[str, Any]) -> None:
        attempt = self._attempt(metadata)
        if attempt is None:
            return
        attempt.outcome = "requeued"
        attempt.span.set_attribute("hare.outcome", "requeued")
        self._finish_if_stopped(metadata)

    def _on_duplicate(self, sender: Any, measurements: Any, metadata: Mapping[str, Any]) -> None:
        attempt = self._attempt(metadata)
        if attempt is not None:
            attempt.span.set_attribute("hare.duplicate", True)

    def _on_stop(self, sender: Any, measurements: Any, metadata: Mapping[str, Any]) -> None:
        key = str(metadata.get("telemetry_span_context"))
        attempt = self._attempts.get(key)
        if attempt is None:
            return
        outcome = metadata.get("outcome") or attempt.outcome
        if outcome is None and metadata.get("result") == "ok":
            outcome = "acked"
        if outcome in OUTCOMES and attempt.span.is_recording():
            attempt.span.set_attribute("hare.outcome", outcome)
        if outcome is None and "outcome" not in metadata:
            # stop came before the copy's signal: retried/dead_lettered/requeued finish it, and
            # the span stays current meanwhile (the retry path reads it: first_traceparent)
            attempt.stopped = True
            self._bound_awaiting()
            return
        self._finish(key)

    def _finish_if_stopped(self, metadata: Mapping[str, Any]) -> None:
        key = metadata.get("telemetry_span_context") or self._current.get()
        attempt = self._attempts.get(str(key))
        if attempt is not None and attempt.stopped:
            self._finish(str(key))

    def _finish(self, key: str, *, detach: bool = True) -> None:
        attempt = self._attempts.pop(key, None)
        if self._current.get() == key:
            self._current.set(None)
        if attempt is not None and attempt.own:
            if detach and attempt.token is not None:
                _detach(attempt.token)
            attempt.span.end()

    def _bound_awaiting(self) -> None:
        """A delivery whose copy never signals (cancelled) is dropped past ``MAX_AWAITING_COPY``."""
        awaiting = [key for key, attempt in self._attempts.items() if attempt.stopped]
        for key in awaiting[: max(0, len(awaiting) - MAX_AWAITING_COPY)]:
            self._finish(key, detach=False)  # another task's context: nothing to detach here

    def _attempt(self, metadata: Mapping[str, Any]) -> _Attempt | None:
        """The delivery a signal belongs to: by its span key, else this task's delivery."""
        key = metadata.get("telemetry_span_context") or self._current.get()
        attempt = self._attempts.get(str(key)) if key is not None else None
        if attempt is None or not attempt.span.is_recording():
            return None
        return attempt


def _is_process_span(span: Span) -> bool:
    """Is ``span`` FastStream's process span (or another consumer span that is recording)?"""
    if not span.is_recording():
        return False
    scope = getattr(span, "instrumentation_scope", None)
    if scope is not None and getattr(scope, "name", None) == FASTSTREAM_SCOPE:
        return True
    return getattr(span, "kind", None) is SpanKind.CONSUMER


def _detach(token: object) -> None:
    """Detach our context; a stop in another task than its start must not break hare."""
    try:
        context.detach(token)  # type: ignore[arg-type]
    except Exception:  # pragma: no cover - OpenTelemetry logs and swallows this itself
        return
