"""``republish_dead_messages``: move dead messages back, one confirmed copy at a time."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import aiormq.exceptions

from faststream_hare._internal.channels import scratch_channel
from faststream_hare._internal.confirm import ConfirmError
from faststream_hare.errors import HareConfigError, HareError
from faststream_hare.retry.copies import MessageCopy
from faststream_hare.retry.decision import replay_headers
from faststream_hare.telemetry import signals
from faststream_hare.topology.names import dead_queue_name

if TYPE_CHECKING:
    from faststream_hare.runtime import HareRuntime

logger = logging.getLogger("faststream_hare.retry")


class ReplayError(HareError):
    """A replay stopped early: a copy was not confirmed (``moved`` were moved before it)."""

    def __init__(self, message: str, *, moved: int) -> None:
        super().__init__(message)
        self.moved = moved


async def republish_dead_messages(runtime: HareRuntime, queue: str, count: int) -> int:
    """Move up to ``count`` messages from ``queue.dead`` to ``queue`` (FIFO, ``retry_count`` reset).

    Each copy goes to ``queue`` through the default exchange and is confirmed by the broker
    before its dead original is acked, so a message is never lost (at worst, after a crash
    between the two steps, it is in both queues). Returns how many were moved; stops early
    when the dead queue is empty. ``count <= 0`` moves nothing.
    """
    if isinstance(count, bool) or not isinstance(count, int):
        msg = f"count must be an integer number of messages, got {count!r}."
        raise HareConfigError(msg)
    if count <= 0:
        return 0
    held = runtime.transport.held(dead_queue_name(queue)) if runtime.in_memory else None
    try:
        if held is not None:
            moved = await _replay_in_memory(runtime, held, queue, count)
        else:
            moved = await _replay_on_broker(runtime, queue, count)
    except ReplayError as exc:
        _replayed(runtime, queue, exc.moved)
        raise
    _replayed(runtime, queue, moved)
    return moved


def _replayed(runtime: HareRuntime, queue: str, moved: int) -> None:
    """Signal ``dead_letters.replayed`` (metric ``hare_dead_letters_replayed_total``)."""
    signals.emit(
        signals.dead_letters_replayed,
        runtime.sender,
        {"count": moved, "system_time": signals.system_time()},
        {"queue": queue, "dead_queue": dead_queue_name(queue)},
    )


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
        raise HareError(msg)
    dead_name = dead_queue_name(queue)
    transport = runtime.transport
    moved = 0
    async with scratch_channel(connection) as channel:
        try:
            dead = await channel.declare_queue(dead_name, passive=True, robust=False)
        except aiormq.exceptions.ChannelNotFoundEntity:
            msg = f"Queue '{dead_name}' does not exist; is '{queue}' a hare subscriber's queue?"
            raise HareError(msg) from None
        while moved < count:
            incoming = await dead.get(no_ack=False, fail=False)
            if incoming is None:
                break
            copy = MessageCopy.of(incoming)
            try:
                await transport.send(queue, copy.with_headers(replay_headers(copy.headers)))
            except ConfirmError as failure:
                await incoming.nack(requeue=True)
                msg = (
                    f"Replay from '{dead_name}' to '{queue}' stopped after {moved} message(s): "
                    f"{failure}; the rest stay in '{dead_name}'."
                )
                raise ReplayError(msg, moved=moved) from failure
            await incoming.ack()
            moved += 1
    logger.info("Moved %d message(s) from '%s' back to '%s'", moved, dead_name, queue)
    return moved
