"""Copies still waiting for their confirm: the handler moved on, the original is not settled.

A failed delivery's copy is confirmed in the background, so the consumer takes the next message
at once and many copies are in flight within the prefetch window. Each original is
acked (by delivery tag, in any order) only when its copy is confirmed, or goes back to ``Q``
when it is not: no message goes unaccounted for. A subscriber stopping waits for these before
its channel closes (a copy cut short just leaves its original unacked: it comes back).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from faststream_hare._internal.channels import OPERATION_TIMEOUT_S
from faststream_hare._internal.tasks import end_tasks


class PendingHandoffs:
    """The background handoffs of one subscriber, by the channel their original came on."""

    def __init__(self) -> None:
        self._tasks: dict[asyncio.Task[None], object] = {}

    def __len__(self) -> int:
        return len(self._tasks)

    def start(
        self, handoff: Coroutine[Any, Any, None], *, name: str, channel: object = None
    ) -> None:
        """Run ``handoff`` in the background, referenced (with its ``channel``) until it ends."""
        task = asyncio.get_running_loop().create_task(handoff, name=name)
        self._tasks[task] = channel
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)

    async def wait(self, timeout_s: float, *, channel: object = None) -> None:
        """Let the handoffs in flight finish (at most ``timeout_s``), then cancel the rest: a
        cancelled handoff gives its original back with a bounded nack. With ``channel``, only
        the handoffs of messages that came on it (one pool worker's): the others' originals
        settle on their own live channels."""
        tasks = {t for t, on in self._tasks.items() if channel is None or on is channel}
        if not tasks:
            return
        _done, late = await asyncio.wait(tasks, timeout=timeout_s)
        if not late:
            return
        for task in late:
            task.cancel()
        _done, late = await asyncio.wait(late, timeout=OPERATION_TIMEOUT_S + 1)
        await end_tasks(late)
