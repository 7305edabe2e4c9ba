"""Start-up declares subscribers' topologies several at a time, never more than the bound."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from faststream_hare.topology.declare import declare_concurrently


async def test_every_declaration_runs_and_at_most_limit_at_once() -> None:
    running, peak, done = 0, 0, []

    def declaration(n: int) -> Callable[[], Awaitable[None]]:
        async def declare() -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.001 * (n % 3))
            running -= 1
            done.append(n)

        return declare

    await declare_concurrently([declaration(n) for n in range(50)], limit=4)
    assert sorted(done) == list(range(50))
    assert peak == 4


async def test_the_first_failure_in_order_is_raised_after_all_ran() -> None:
    done: list[int] = []

    def declaration(n: int) -> Callable[[], Awaitable[None]]:
        async def declare() -> None:
            await asyncio.sleep(0.001 * (10 - n))  # later ones finish first
            done.append(n)
            if n in (3, 7):
                raise ValueError(f"declaration {n}")

        return declare

    with pytest.raises(ValueError, match="declaration 3"):
        await declare_concurrently([declaration(n) for n in range(10)], limit=10)
    assert sorted(done) == list(range(10))
