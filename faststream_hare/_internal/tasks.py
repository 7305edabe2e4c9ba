"""Hare's own tasks: running many start-up steps together, at most a bound at a time, and
ending background tasks (cancel until they are done, within a bound).

A broker with hundreds of subscribers makes hundreds of chains of round trips when it starts;
one after another they add up, all at once they would open as many channels at the same time.

On Python 3.11 ``asyncio.wait_for`` swallows a cancel that arrives in the loop turn its inner
await completes (CPython gh-86296, fixed in 3.12): a loop whose ``wait_for`` took the cancel
carries on as if nothing happened. So hare's loops also end on a stop flag checked after every
await, and stopping cancels again until the task really ended, for at most a bound. Waiting
uses ``asyncio.wait``: the caller's own cancellation always reaches the caller (a
``suppress(CancelledError)`` around ``await task`` would swallow it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

logger = logging.getLogger("faststream_hare")

#: How long a cancelled task gets before it is cancelled again.
RECANCEL_EVERY_S = 0.5
#: The default bound for ending a task.
END_TIMEOUT_S = 10.0


async def end_tasks(
    tasks: Iterable[asyncio.Task[Any]], *, timeout_s: float = END_TIMEOUT_S
) -> bool:
    """Cancel ``tasks`` and wait until each ended, cancelling again those that swallowed the
    cancel; ``False`` (and one warning) if some still run after ``timeout_s``."""
    given = list(tasks)
    pending = {task for task in given if not task.done()}
    try:
        return await _cancel_until_done(pending, timeout_s)
    finally:
        for task in given:  # an ending error is the task's own, already logged or moot
            if task.done() and not task.cancelled():
                task.exception()


async def _cancel_until_done(pending: set[asyncio.Task[Any]], timeout_s: float) -> bool:
    if not pending:
        return True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while pending:
        for task in pending:
            task.cancel()
        remaining = deadline - loop.time()
        if remaining <= 0:
            logger.warning(
                "%d background task(s) did not end within %.1f s: %s",
                len(pending),
                timeout_s,
                ", ".join(sorted(task.get_name() for task in pending)),
            )
            return False
        _, pending = await asyncio.wait(pending, timeout=min(RECANCEL_EVERY_S, remaining))
    return True


async def run_bounded(steps: Sequence[Callable[[], Awaitable[None]]], limit: int) -> None:
    """Run every step, at most ``limit`` at a time; once all ended, raise the first failure
    in the given order (the one that one after another would have raised)."""
    gate = asyncio.Semaphore(limit)

    async def one(step: Callable[[], Awaitable[None]]) -> None:
        async with gate:
            await step()

    results = await asyncio.gather(*(one(step) for step in steps), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
