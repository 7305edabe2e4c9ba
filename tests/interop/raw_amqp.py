"""Plain AMQP for the interop tests: publish as a third service would, read a queue empty."""

from __future__ import annotations

import json
from typing import Any

import aio_pika

from tests.interop.haremq import Names
from tests.support.amqp import drain
from tests.support.rabbit_admin import AMQP_URL


async def publish_raw(names: Names, body: dict[str, Any], *, message_id: str) -> None:
    """Publish ``body`` to ``E`` with ``R`` (JSON, persistent), outside both libraries."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        exchange = await channel.get_exchange(names.exchange, ensure=False)
        await exchange.publish(
            aio_pika.Message(
                json.dumps(body).encode(),
                content_type="application/json",
                message_id=message_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=names.routing_key,
        )
    finally:
        await connection.close()


async def get_all(queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Every message in ``queue`` right now, removed from it."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        return await drain(await channel.declare_queue(queue, passive=True))
    finally:
        await connection.close()
