"""Helpers of the lead's fault tests: publishing ids directly, reading ids back, recovery times."""

from __future__ import annotations

import statistics
from collections import Counter

import aio_pika

from tests.support.amqp import drain
from tests.support.rabbit_admin import AMQP_URL


async def publish_ids(queue: str, bodies: dict[str, bytes]) -> None:
    """Publish each body to ``queue`` with its id, persistent and confirmed (never via a proxy)."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel(publisher_confirms=True)
        for message_id, body in bodies.items():
            await channel.default_exchange.publish(
                aio_pika.Message(
                    body,
                    message_id=message_id,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=queue,
            )
    finally:
        await connection.close()


async def message_ids(queue: str) -> Counter[str]:
    """The ``message_id`` of every message in ``queue`` right now (drained)."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        target = await channel.declare_queue(queue, passive=True)
        return Counter(m.message_id or "" for m in await drain(target))
    finally:
        await connection.close()


def recovery_after(moments: list[float], handled_at: list[float]) -> list[float]:
    """Seconds from each fault to the next message handled after it."""
    result = []
    for moment in moments:
        later = [t for t in handled_at if t > moment]
        if later:
            result.append(min(later) - moment)
    return result


def summary(recoveries: list[float]) -> dict[str, float]:
    """``recovery_max_s`` and ``recovery_median_s`` for ``Account.report``."""
    if not recoveries:
        return {}
    return {
        "recovery_max_s": max(recoveries),
        "recovery_median_s": statistics.median(recoveries),
    }
