"""Copies still waiting for their confirm: the handler moved on, the original is not settled.

A failed delivery's copy is confirmed in the background, so the consumer takes the next message
at once and many copies are in flight within the prefetch window. Each original is
acked (by delivery tag, in any order) only when its copy is confirmed, or goes back to ``Q``
when it is not: no message goes unaccounted for. A subscriber stopping waits for these before
its channel closes (a copy cut short just leaves its original unacked: it comes back).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any


class PendingHandoffs:
    """The background handoffs of one subscriber."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def start(self, handoff: Coroutine[Any, Any, None], *, name: str) -> None:
        """Run ``handoff`` in the background, referenced until it ends."""
        task = asyncio.get_running_loop().create_task(handoff, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self, timeout_s: float) -> None:
        """Let the handoffs in flight finish (at most ``timeout_s``), then cancel the rest."""
        tasks = set(self._tasks)
        if not tasks:
            return
        _done, late = await asyncio.wait(tasks, timeout=timeout_s)
        for task in late:
            task.cancel()
        for task in late:
            with contextlib.suppress(asyncio.CancelledError):
                await task
