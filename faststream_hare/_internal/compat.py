"""What Python 3.11 added that hare uses, for Python 3.10 too.

On 3.10 ``asyncio.TimeoutError`` is not the built-in ``TimeoutError``: code that waits with
``asyncio.wait_for`` or :func:`timeout` catches ``asyncio.TimeoutError`` (the same class on 3.11+).
"""

from __future__ import annotations

import asyncio
import sys
from enum import Enum

if sys.version_info >= (3, 11):
    from asyncio import timeout, timeout_at
    from datetime import UTC
    from enum import StrEnum
else:  # pragma: no cover - exercised by scripts/pythons.sh on CPython 3.10
    from datetime import timezone

    from async_timeout import timeout, timeout_at

    UTC = timezone.utc

    class StrEnum(str, Enum):
        """``enum.StrEnum`` of 3.11: members are strings and print as their value."""

        def __str__(self) -> str:
            return str(self.value)


def cancelling(task: asyncio.Task[object]) -> bool:
    """True when ``task`` itself is being cancelled (not an inner await that was cancelled).

    Python 3.10 cannot tell the two apart: it answers True, so a cancellation is never swallowed.
    """
    if sys.version_info >= (3, 11):
        return task.cancelling() > 0
    return True  # pragma: no cover - CPython 3.10


__all__ = ["UTC", "StrEnum", "cancelling", "timeout", "timeout_at"]
