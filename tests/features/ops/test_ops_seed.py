"""Seeding ``Q.dead`` for the ops tests, and the broker fact the dead-letter scan relies on.

``seed_dead`` declares ``Q`` and ``Q.dead`` as hare plans them and publishes dead letters
straight into ``Q.dead`` (with hare's headers), so every ops test knows exactly which message
ids sit where, in which order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aio_pika
import pytest

from faststream_hare.config.settings import DEFAULT_MESSAGE_TTL_MS
from tests.support.rabbit_admin import AMQP_URL

pytestmark = pytest.mark.rabbit

#: (message id, exception type, error text) of a standard mixed dead queue.
MIXED: tuple[tuple[str, str | None, str], ...] = (
    ("m0", "ValueError", "bad order 0"),
    ("m1", "TimeoutError", "payment gateway timed out"),
    ("m2", "ValueError", "bad order 2"),
    ("m3", None, ""),
    ("m4", "TimeoutError", "payment gateway timed out"),
    ("m5", "ValueError", "bad order 5"),
)


async def seed_dead(
    queue: str,
    letters: Sequence[tuple[str, str | None, str]] = MIXED,
    *,
    body: bytes | None = None,
    dead_lettered_at: str | None = None,
) -> None:
    """Declare ``queue`` and ``queue.dead`` and put ``letters`` into ``queue.dead`` in order."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True)
        await channel.declare_queue(
            f"{queue}.dead", durable=True, arguments={"x-message-ttl": DEFAULT_MESSAGE_TTL_MS}
        )
        for message_id, exception, error in letters:
            headers: dict[str, Any] = {"retry_count": 4, "x-tenant": "acme"}
            if exception is not None:
                headers |= {"hare-exception": exception, "hare-error": error}
            if dead_lettered_at is not None:
                headers["hare-dead-lettered-at"] = dead_lettered_at
            await channel.default_exchange.publish(
                aio_pika.Message(
                    body if body is not None else f'{{"id": "{message_id}"}}'.encode(),
                    headers=headers,
                    message_id=message_id,
                    content_type="application/json",
                ),
                routing_key=f"{queue}.dead",
            )
    finally:
        await connection.close()


async def message_ids(name: str) -> list[str]:
    """Every message id in ``name``, head first; the messages stay (read, then requeued)."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        held = []
        while (message := await queue.get(no_ack=False, fail=False)) is not None:
            held.append(message)
        ids = [str(m.message_id) for m in held]
        for message in held:
            await message.nack(requeue=True)
        return ids
    finally:
        await connection.close()


async def test_held_messages_go_back_to_their_places(prefix: str) -> None:
    """The fact ``ops/link.py`` relies on: requeued messages keep their original order."""
    await seed_dead(prefix)
    assert await message_ids(f"{prefix}.dead") == [m[0] for m in MIXED]
    assert await message_ids(f"{prefix}.dead") == [m[0] for m in MIXED]
