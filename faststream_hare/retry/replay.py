"""``republish_dead_messages``: the app's way into the dead-letter engine.

The transport moves the messages (``Transport.replay_dead``): on the real broker the one
dead-letter engine (``faststream_hare.dead_letters``) with the app's confirm channel, in memory
the held copies; both keep one contract, so nothing here asks which it has.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from faststream_hare.contract.names import dead_queue_name
from faststream_hare.errors import HareConfigError, ReplayError
from faststream_hare.telemetry import signals

if TYPE_CHECKING:
    from faststream_hare.runtime import HareRuntime

logger = logging.getLogger("faststream_hare.retry")


async def republish_dead_messages(runtime: HareRuntime, queue: str, count: int) -> int:
    """Move up to ``count`` messages from ``queue.dead`` to ``queue`` (FIFO, ``retry_count`` reset).

    Each copy goes to ``queue`` through the default exchange and is confirmed by the broker
    before its dead original is acked, so a message is never lost (at worst, after a crash
    between the two steps, it is in both queues). Returns how many were moved; stops early
    when the dead queue is empty. ``count <= 0`` moves nothing. Raises ``ReplayError`` (its
    ``moved`` says how many went before, the cause chained) when it cannot go on: no
    ``queue.dead``, a lost link, a copy not confirmed; a ``count`` that is not an integer is a
    ``HareConfigError``.
    """
    if isinstance(count, bool) or not isinstance(count, int):
        msg = f"count must be an integer number of messages, got {count!r}."
        raise HareConfigError(msg)
    if count <= 0:
        return 0
    try:
        report = await runtime.transport.replay_dead(queue, count)
    except ReplayError as exc:
        signals.emit_replayed(runtime.sender, queue, exc.moved)
        raise
    logger.info(
        "Moved %d message(s) from '%s' back to '%s'", report.moved, dead_queue_name(queue), queue
    )
    signals.emit_replayed(runtime.sender, queue, report.moved)
    return report.moved
