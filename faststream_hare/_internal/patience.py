"""Trying again with a growing pause until a deadline: the app may start before RabbitMQ.

Pauses start at 0.5 s and double up to ``max_pause_s``; a service that comes up while the
app waits is used within one short pause, a service that never comes gives one clear error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

FIRST_PAUSE_S = 0.5
#: While the broker (or its stream port) cannot be reached, hare tries again at least this
#: often, whatever ``reconnect_interval_ms`` allows: every consumer kind handles again within
#: about a second of the broker accepting connections, however long the outage was.
OUTAGE_PAUSE_MAX_S = 1.0


async def keep_trying(
    attempt: Callable[[], Awaitable[T]],
    *,
    timeout_s: float,
    max_pause_s: float,
    retryable: tuple[type[BaseException], ...],
    on_failure: Callable[[BaseException, float], None],
) -> T:
    """``attempt()``'s result; its last error once ``timeout_s`` has passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    pause = FIRST_PAUSE_S
    while True:
        try:
            return await attempt()
        except retryable as exc:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise
            wait = min(pause, remaining)
            on_failure(exc, wait)
            await asyncio.sleep(wait)
            pause = min(pause * 2, max(max_pause_s, FIRST_PAUSE_S))
