"""``republish_dead_messages``: the app's way into the dead-letter engine.

On the real broker it runs ``faststream_hare.dead_letters`` with the app's confirm channel;
in memory it moves the held copies itself.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from faststream_hare.contract.copies import MessageCopy
from faststream_hare.contract.headers import replay_headers
from faststream_hare.contract.names import dead_queue_name
from faststream_hare.dead_letters import DeadReport, QueueNotFoundError, ReplayError, replay_letters
from faststream_hare.errors import HareConfigError
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
    ``moved`` says how many went before) when it cannot go on.
    """
    if isinstance(count, bool) or not isinstance(count, int):
        msg = f"count must be an integer number of messages, got {count!r}."
        raise HareConfigError(msg)
    if count <= 0:
        return 0
    held = runtime.transport.held(dead_queue_name(queue))
    try:
        if held is not None:
            moved = await _replay_in_memory(runtime, held, queue, count)
        else:
            moved = await _replay_on_broker(runtime, queue, count)
    except ReplayError as exc:
        signals.emit_replayed(runtime.sender, queue, exc.moved)
        raise
    signals.emit_replayed(runtime.sender, queue, moved)
    return moved


async def _replay_in_memory(
    runtime: HareRuntime, dead: list[MessageCopy], queue: str, count: int
) -> int:
    # Take the batch first: in memory a replayed message that fails again is dead-lettered
    # synchronously, and must not be picked up a second time by this same call.
    batch, dead[:count] = dead[:count], []
    transport = runtime.transport
    for copy in batch:
        await transport.send(queue, copy.with_headers(replay_headers(copy.headers)))
    return len(batch)


async def _replay_on_broker(runtime: HareRuntime, queue: str, count: int) -> int:
    connection = runtime.connection
    if connection is None or connection.is_closed:
        msg = "republish_dead_messages needs a connected broker; call it after broker.start()."
        raise ReplayError(msg, DeadReport(queue, 0, 0, 0, dry_run=False, scanned=0))
    try:
        report = await replay_letters(connection, queue, count=count, send=runtime.transport.send)
    except QueueNotFoundError:
        dead = dead_queue_name(queue)
        msg = f"Queue '{dead}' does not exist; is '{queue}' a hare subscriber's queue?"
        raise ReplayError(msg, DeadReport(queue, 0, 0, 0, dry_run=False, scanned=0)) from None
    logger.info(
        "Moved %d message(s) from '%s' back to '%s'", report.moved, dead_queue_name(queue), queue
    )
    return report.moved
