"""The names of a hare subscriber's queues, wire-compatible with HareMq."""

from __future__ import annotations

from collections.abc import Sequence


def delay_queue_name(queue: str) -> str:
    """The single delay queue used when no cascade is configured."""
    return f"{queue}.delay"


def cascade_queue_name(queue: str, delay_ms: int) -> str:
    """One delay queue per cascade value, e.g. ``orders.delay.5000``."""
    return f"{queue}.delay.{delay_ms}"


def dead_queue_name(queue: str) -> str:
    """The terminal dead-letter queue."""
    return f"{queue}.dead"


def delay_for_retry(cascade: Sequence[int], delay_in_ms: int, retry_number: int) -> int:
    """Delay of retry ``retry_number`` (1-based): ``cascade[min(i-1, len-1)]`` in given order."""
    if not cascade:
        return delay_in_ms
    return cascade[min(max(retry_number, 1) - 1, len(cascade) - 1)]


def delay_queue_for_retry(queue: str, cascade: Sequence[int], retry_number: int) -> str:
    """The delay queue a message waits in before retry ``retry_number``."""
    if not cascade:
        return delay_queue_name(queue)
    return cascade_queue_name(queue, delay_for_retry(cascade, 0, retry_number))
