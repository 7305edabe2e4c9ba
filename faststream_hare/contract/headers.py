"""HareMq's headers: their names, and how hare reads and writes them.

``retry_count`` is what HareMq counts retries by (written as an AMQP long, see ``amqp_long``);
the ``hare-*`` headers say why and when a message is dead, and are dropped again when it is
replayed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from faststream_hare._internal.compat import UTC

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
