"""The operator's own AMQP connection, and exact queue depths.

Operations run on a plain (not robust) connection of their own, not the app's: a command
works while the app is stopped, an operator's mistake never closes the app's channels, and a
dropped link ends the operation (its unacked messages return to ``Q.dead``) instead of being
silently re-established half-way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aio_pika
import aiormq.exceptions
from aio_pika.abc import AbstractConnection

from faststream_hare._internal.masking import mask_url
from faststream_hare.contract.names import dead_queue_name
from faststream_hare.dead_letters import AUTO, DeliveryLimit
from faststream_hare.errors import ManagementUnavailableError, OpsConnectionError
from faststream_hare.ops.management import Management
from faststream_hare.topology.delivery_limit import limit_of_record, server_version

CONNECT_TIMEOUT_S = 10.0


@contextlib.asynccontextmanager
async def connect(url: str) -> AsyncIterator[AbstractConnection]:
    """An AMQP connection to ``url``; one clear sentence when it cannot be opened."""
    try:
        connection = await asyncio.wait_for(aio_pika.connect(url), CONNECT_TIMEOUT_S)
    except (OSError, asyncio.TimeoutError, aiormq.exceptions.AMQPError, ValueError) as exc:
        reason = type(exc).__name__
        msg = (
            f"Cannot connect to RabbitMQ at {mask_url(url)} ({reason}); check --url "
            "(or HARE_MQ_URL) and that the broker is running."
        )
        raise OpsConnectionError(msg) from None
    try:
        yield connection
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connection.close(), CONNECT_TIMEOUT_S)


async def queue_depth(connection: AbstractConnection, name: str) -> tuple[int, int] | None:
    """``(ready, consumers)`` of ``name`` by passive declare (exact); ``None`` if it is missing."""
    channel = await connection.channel(publisher_confirms=False)
    try:
        queue = await channel.declare_queue(name, passive=True)
    except aiormq.exceptions.ChannelNotFoundEntity:
        return None
    finally:
        with contextlib.suppress(Exception):
            await channel.close()
    result = queue.declaration_result
    return int(result.message_count or 0), int(result.consumer_count or 0)


async def dead_delivery_limit(
    connection: AbstractConnection, url: str, queue: str, mgmt_url: str | None = None
) -> DeliveryLimit:
    """The delivery limit in force on ``queue.dead``, from the management API; ``AUTO`` (the
    broker's default) when the API does not know the queue or does not answer."""
    try:
        record = await Management.for_url(url, mgmt_url).queue(dead_queue_name(queue))
    except ManagementUnavailableError:
        return AUTO
    if record is None:
        return AUTO
    return limit_of_record(server_version(connection), record)
