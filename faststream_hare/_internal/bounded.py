"""Running many start-up steps together, at most a bound at a time.

A broker with hundreds of subscribers makes hundreds of chains of round trips when it starts;
one after another they add up, all at once they would open as many channels at the same time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence


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
