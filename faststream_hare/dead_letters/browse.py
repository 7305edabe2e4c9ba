"""Browsing the head of ``Q.dead`` fast: a consumer with a prefetch, everything given back.

A page of the console needs the first few hundred or thousand messages, not the whole queue.
``basic.get`` costs a round trip per message (about 2 ms here: 10 000 messages in 18 s); a
consumer whose prefetch covers the window streams them (10 000 in about 2 s). Nothing is acked:
when the window is read the consumer is cancelled and every message goes back with one
``basic.nack(multiple, requeue)`` (in order when the window held the whole queue; see
``scan.py`` on a quorum queue read in part). The
client keeps only what ``visit`` keeps, so memory does not grow with the window. Messages that
one more return would bring to the delivery limit are re-filed as in ``scan.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage
from aiormq.abc import DeliveredMessage

from faststream_hare._internal.channels import close_quietly, open_plain_channel
from faststream_hare.contract.names import dead_queue_name
from faststream_hare.dead_letters.letters import DeadLetter
from faststream_hare.dead_letters.scan import DeadScan, Sender, declare_dead, letter_of

#: How long to wait for one more message once fewer than expected came (a depth that lagged).
IDLE_S = 0.3
#: How long to wait for more once the depth was read (they come at once if there are any).
LINGER_S = 0.05
#: How long to wait for the first message of a queue that is not empty.
FIRST_MESSAGE_S = 5.0


@dataclass(frozen=True)
class Browsed:
    """How a browse went: messages read, and the depth of ``Q.dead`` when it began."""

    read: int
    depth: int


async def browse(
    connection: AbstractConnection,
    queue: str,
    *,
    count: int,
    visit: Callable[[DeadLetter], None],
    refile: Sender | None = None,
    delivery_limit: int | None = None,
) -> Browsed:
    """Show ``visit`` the first ``count`` messages of ``queue.dead``, head first; take none."""
    name = dead_queue_name(queue)
    channel = await open_plain_channel(connection)
    try:
        declared, depth = await declare_dead(channel, queue)
        # A quorum queue's depth lags behind publishes by a moment (a queue just re-filed may
        # say 0 or 1), so the depth only tells how long to wait for more.
        wanted = count
        if wanted <= 0:
            return Browsed(0, depth)
        # The scan's bookkeeping (re-filing hot messages) without its basic.get reading.
        scan = DeadScan(queue, channel, declared, depth, delivery_limit=delivery_limit)
        scan.refile = refile
        hot: list[AbstractIncomingMessage] = []
        read = 0
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Wakes the wait below at each message: the patience chosen before one came must not
        # keep messages that are all read from everyone else (up to FIRST_MESSAGE_S).
        came = asyncio.Event()

        async def on_message(delivered: DeliveredMessage) -> None:
            nonlocal read
            if read >= wanted:
                return
            message = aio_pika.IncomingMessage(delivered, no_ack=False)
            visit(letter_of(message, read))
            read += 1
            came.set()
            if scan.too_often_returned(message):
                hot.append(message)
            if read >= wanted and not done.done():
                done.set_result(None)

        raw = await channel.get_underlay_channel()
        await raw.basic_qos(prefetch_count=wanted)
        ok = await raw.basic_consume(name, on_message, no_ack=False)
        try:
            seen = -1
            while not done.done() and read != seen:  # stop when nothing came for a while
                seen = read
                came.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    patience = LINGER_S if read >= depth else IDLE_S if read else FIRST_MESSAGE_S
                    await asyncio.wait_for(came.wait(), patience)
        finally:
            with contextlib.suppress(Exception):
                await raw.basic_cancel(ok.consumer_tag or "")
            scan.held = hot
            await scan.give_back_hot()
            with contextlib.suppress(Exception):
                await raw.basic_nack(delivery_tag=0, multiple=True, requeue=True)
        return Browsed(read, depth)
    finally:
        await close_quietly(channel)
