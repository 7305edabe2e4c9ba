"""Plain (non-robust) channels on the broker's robust connection.

Pool workers, locks and depth samples use channels that die with the connection instead of
being restored by aio-pika: a restored exclusive lock queue or consumer could break the
one-holder rule, and a restored passive declare of a deleted queue would stall the whole
connection's recovery. Their owners re-open them themselves (``worker.py``, ``depth.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection

logger = logging.getLogger("faststream_hare.scaling")

#: Cap for one channel operation (open, declare, cancel, close) so nothing hangs forever.
OPERATION_TIMEOUT_S = 10.0


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
