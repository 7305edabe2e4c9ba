"""Channels of hare's own beside FastStream's: throwaway ones, plain ones, closing them.

Declaring topology, replaying dead letters or checking an exchange happens on a throwaway
channel, so an error there (a 406, a missing entity) closes only that channel.

Pool workers, locks and depth samples use *plain* channels that die with the connection
instead of being restored by aio-pika: a restored exclusive lock queue or consumer could break
the one-holder rule, and a restored passive declare of a deleted queue would stall the whole
connection's recovery. Their owners re-open them themselves (``scaling/worker.py``,
``scaling/depth.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractRobustChannel,
    AbstractRobustConnection,
)

from faststream_hare._internal import compat

#: Cap for one channel operation (open, declare, cancel, close) so nothing hangs forever.
OPERATION_TIMEOUT_S = 10.0

T = TypeVar("T")


async def bounded(operation: Awaitable[T]) -> T:
    """Await one channel operation (an ack, a nack) for at most ``OPERATION_TIMEOUT_S``.

    A link that died with aiormq's write queue full never wakes an ack or a nack, and a stop
    must not wait on it forever; ``asyncio.TimeoutError`` when the bound passes.
    """
    async with compat.timeout(OPERATION_TIMEOUT_S):
        return await operation


async def open_plain_channel(connection: AbstractConnection) -> AbstractChannel:
    """A new channel that is not restored on reconnect (closed for good when the link drops)."""
    channel = aio_pika.Channel(connection, publisher_confirms=False)
    await asyncio.wait_for(channel.initialize(), OPERATION_TIMEOUT_S)
    return channel


async def close_quietly(channel: AbstractChannel | None) -> None:
    """Close ``channel`` if it is still open; errors of an already broken link are ignored."""
    if channel is None or channel.is_closed:
        return
    with contextlib.suppress(Exception):
        await asyncio.wait_for(channel.close(), OPERATION_TIMEOUT_S)


@contextlib.asynccontextmanager
async def scratch_channel(
    connection: AbstractRobustConnection,
) -> AsyncIterator[AbstractRobustChannel]:
    """A channel for one job, closed afterwards (quietly: the job's own error wins)."""
    channel = await connection.channel(publisher_confirms=False)
    try:
        yield channel
    finally:
        await close_quietly(channel)


def on_broker_cancel(underlay: Any, callback: Callable[[Any], None]) -> bool:
    """Call ``callback`` with the broker's ``basic.cancel`` of a consumer on ``underlay`` (an
    aiormq channel). ``False`` where aiormq has no such hook (6.9, the Python 3.10 stack):
    the caller then watches with :func:`consumer_gone`."""
    callbacks = getattr(underlay, "on_consumer_cancel_callbacks", None)
    if callbacks is None:
        return False
    callbacks.add(callback)
    return True


#: How often :func:`consumer_gone` looks.
CANCEL_POLL_S = 0.5


async def consumer_gone(underlay: Any, consumer_tag: str) -> None:
    """Return once ``consumer_tag`` is no longer one of ``underlay``'s consumers: aiormq drops
    it when the broker cancels it (a deleted queue), which aiormq 6.9 tells nobody."""
    while consumer_tag in getattr(underlay, "consumers", {}):  # noqa: ASYNC110 (no event)
        await asyncio.sleep(CANCEL_POLL_S)
