"""Worker and lock names: ``<queue>.W<n>`` and ``hare.lock.<queue>.W<n>``."""

from __future__ import annotations

LOCK_PREFIX = "hare.lock."


def worker_name(queue: str, number: int) -> str:
    """The name of worker ``number`` of ``queue`` (numbers start at 1)."""
    return f"{queue}.W{number}"


def lock_queue_name(queue: str, number: int) -> str:
    """The exclusive queue whose owner runs worker ``number`` cluster-wide."""
    return f"{LOCK_PREFIX}{worker_name(queue, number)}"


def next_free_number(taken: set[int]) -> int:
    """The lowest worker number not in use (``n + 1`` while ``W1..Wn`` are contiguous)."""
    number = 1
    while number in taken:
        number += 1
    return number
