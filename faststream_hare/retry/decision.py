"""The pure retry decision: where a failed message goes next and with which headers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from faststream_hare._internal.compat import UTC
from faststream_hare._internal.wire import AmqpLong
from faststream_hare.topology.names import (
    dead_queue_name,
    delay_for_retry,
    delay_queue_for_retry,
)

RETRY_COUNT_HEADER = "retry_count"
EXCEPTION_HEADER = "hare-exception"
ERROR_HEADER = "hare-error"
REASON_HEADER = "hare-reason"
#: When hare dead-lettered the message: ISO 8601 in UTC, e.g. ``2026-12-07T01:58:00.123Z``.
DEAD_LETTERED_AT_HEADER = "hare-dead-lettered-at"
#: W3C traceparent of a message's first attempt, on its retry copies (span links).
FIRST_TRACEPARENT_HEADER = "hare-first-traceparent"
#: Why a message is dead: the ``hare-reason`` header and the metrics' ``reason`` label.
DeadReason = Literal["retries_exhausted", "poison", "no_handler", "unrecoverable", "delivery_limit"]
#: ``hare-error`` is cut to this many bytes of UTF-8 so a huge message cannot bloat headers.
MAX_ERROR_BYTES = 1024


def read_retry_count(headers: Mapping[str, Any] | None) -> int:
    """``retry_count`` from the headers; missing, negative or non-integer counts as 0.

    Any integer wire type is accepted (HareMq writes ``long``; pamqp may write ``b``/``s``/``I``).
    """
    value = (headers or {}).get(RETRY_COUNT_HEADER)
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return max(value, 0)


def retries_performed(headers: Mapping[str, Any] | None) -> int:
    """How many retries a message in ``Q.dead`` went through.

    A copy hare (or HareMq) dead-lettered carries ``retry_count`` one above the retries
    performed (the count it arrived with, plus one). A message RabbitMQ itself dead-lettered
    from ``Q`` (a delivery limit; its newest ``x-death`` names ``Q``, not a delay queue) kept
    the count it arrived with. Without the header it was never retried.
    """
    count = read_retry_count(headers)
    if _dead_lettered_from_main_queue(headers):
        return count
    return max(count - 1, 0)


def _dead_lettered_from_main_queue(headers: Mapping[str, Any] | None) -> bool:
    deaths = (headers or {}).get("x-death")
    if not isinstance(deaths, list | tuple) or not deaths or not isinstance(deaths[0], Mapping):
        return False
    queue = deaths[0].get("queue")
    queue = queue.decode() if isinstance(queue, bytes) else queue
    return isinstance(queue, str) and ".delay" not in queue


def retries_text(count: int) -> str:
    """``"0 retries"``, ``"1 retry"``, ``"3 retries"``."""
    return f"{count} retry" if count == 1 else f"{count} retries"


@dataclass(frozen=True)
class RetryDecision:
    """Retry through ``queue`` (a delay queue) or dead-letter to it, with ``retry_count``."""

    action: Literal["retry", "dead"]
    queue: str
    retry_count: int
    arrived_with: int
    #: Why it is dead (``None`` for a retry).
    reason: DeadReason | None = None
    #: How long the retry waits in its delay queue (``None`` when dead).
    delay_ms: int | None = None


def decide(
    *,
    queue: str,
    arrived_with: int,
    retry_limit: int,
    cascade: Sequence[int],
    delay_in_ms: int = 0,
    poison: bool = False,
    dead_reason: DeadReason | None = None,
) -> RetryDecision:
    """HareMq's rule: below the limit go to the delay queue of retry ``n+1``, else ``Q.dead``.

    ``poison`` (or any ``dead_reason``) dead-letters at once, whatever the count.
    """
    next_count = arrived_with + 1
    reason: DeadReason | None = dead_reason or ("poison" if poison else None)
    if reason is None and arrived_with >= retry_limit:
        reason = "retries_exhausted"
    if reason is not None:
        return RetryDecision("dead", dead_queue_name(queue), next_count, arrived_with, reason)
    return RetryDecision(
        "retry",
        delay_queue_for_retry(queue, cascade, next_count),
        next_count,
        arrived_with,
        delay_ms=delay_for_retry(cascade, delay_in_ms, next_count),
    )


def classify(
    error: BaseException,
    retry_on: tuple[type[BaseException], ...],
    dead_on: tuple[type[BaseException], ...],
) -> DeadReason | None:
    """``"unrecoverable"`` when no retry can help (``dead_on`` wins over ``retry_on``)."""
    if isinstance(error, dead_on) or not isinstance(error, retry_on):
        return "unrecoverable"
    return None


def copy_headers(
    headers: Mapping[str, Any],
    decision: RetryDecision,
    error: BaseException | None,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """``retry_count`` first (as an AMQP long), then every other header; when dead, the
    reasons and the time (``now``, default the clock's)."""
    result: dict[str, Any] = {RETRY_COUNT_HEADER: AmqpLong(decision.retry_count)}
    result.update((k, v) for k, v in headers.items() if k != RETRY_COUNT_HEADER)
    if decision.action == "dead":
        result.update(dead_lettered_now(now))
        if error is not None:
            result.update(error_headers(error))
        if decision.reason is not None:
            result[REASON_HEADER] = decision.reason
    return result


def error_headers(error: BaseException) -> dict[str, str]:
    """``hare-exception`` (type name) and ``hare-error`` (message, at most 1 KiB)."""
    return {EXCEPTION_HEADER: type(error).__name__, ERROR_HEADER: truncate_utf8(str(error))}


def truncate_utf8(text: str, limit: int = MAX_ERROR_BYTES) -> str:
    """Cut ``text`` to at most ``limit`` bytes of UTF-8 without splitting a character."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[:limit].decode("utf-8", errors="ignore")


def dead_lettered_now(now: datetime | None = None) -> dict[str, str]:
    """``hare-dead-lettered-at``: ``now`` (default the clock's) as UTC text."""
    return {DEAD_LETTERED_AT_HEADER: utc_text(now or datetime.now(UTC))}


def utc_text(moment: datetime) -> str:
    """``moment`` as ISO 8601 in UTC with milliseconds and a ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def replay_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """Headers of a replayed dead message: retry state and failure reasons removed."""
    dropped = {
        RETRY_COUNT_HEADER,
        EXCEPTION_HEADER,
        ERROR_HEADER,
        REASON_HEADER,
        DEAD_LETTERED_AT_HEADER,
        FIRST_TRACEPARENT_HEADER,  # a replay is a new first attempt
    }
    return {k: v for k, v in headers.items() if k not in dropped}


def header_text(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """A header as text (``str``, or ASCII ``bytes``); ``None`` when missing or of another type."""
    value = (headers or {}).get(name)
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return value if isinstance(value, str) else None
