"""Cluster-wide worker locks: an exclusive queue per worker name, held by one connection.

RabbitMQ deletes an exclusive queue when its connection closes, so a lock is released by a
crash, a lost link or a clean stop alike, and a stand-by process can take it over.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

from aiormq.exceptions import ChannelLockedResource

from faststream_hare._internal.channels import (
    OPERATION_TIMEOUT_S,
    close_quietly,
    open_plain_channel,
)

if TYPE_CHECKING:
    from aio_pika.abc import AbstractChannel, AbstractConnection

logger = logging.getLogger("faststream_hare.scaling")


async def try_acquire(channel: AbstractChannel, lock_name: str) -> bool:
    """Declare the lock queue exclusively; ``False`` when another connection holds it.

    A refused lock closes ``channel`` (RabbitMQ answers 405 RESOURCE_LOCKED); other errors
    are raised.
    """
    try:
        await channel.declare_queue(
            lock_name,
            exclusive=True,
            timeout=OPERATION_TIMEOUT_S,
        )
    except ChannelLockedResource:
        return False
    return True


async def release(channel: AbstractChannel, lock_name: str) -> None:
    """Delete the lock queue so a stand-by takes over at once (closing the link also does)."""
    if channel.is_closed:
        return
    with contextlib.suppress(Exception):
        await channel.queue_delete(lock_name, timeout=OPERATION_TIMEOUT_S)


async def release_on(connection: AbstractConnection, lock_name: str) -> None:
    """Delete the lock queue from a channel of its own.

    The lock belongs to the connection, not to the worker's channel: when that channel is
    already gone (lost, or never finished attaching) the lock would otherwise stay held until
    the whole connection closes, and no stand-by could take the worker over.
    """
    if connection.is_closed:
        return  # closing the connection released it already
    channel: AbstractChannel | None = None
    try:
        channel = await open_plain_channel(connection)
        await channel.queue_delete(lock_name, timeout=OPERATION_TIMEOUT_S)
    except Exception as exc:
        logger.debug("Could not release lock %s: %r", lock_name, exc)
    finally:
        await close_quietly(channel)
