"""The pure retry decision: where a failed message goes next and with which headers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from faststream_hare.contract.amqp_long import AmqpLong
from faststream_hare.contract.headers import (
    REASON_HEADER,
    RETRY_COUNT_HEADER,
    DeadReason,
    dead_lettered_now,
    error_headers,
)
from faststream_hare.contract.names import (
    dead_queue_name,
    delay_for_retry,
    delay_queue_for_retry,
)


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
