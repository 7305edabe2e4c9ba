"""Exact queue depths over AMQP (the management API's counters lag by seconds)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aio_pika

from tests.support.rabbit_admin import AMQP_URL


async def _declared(url: str, queue: str) -> Any:
    """``queue``'s passive-declare result over ``url``: its message and consumer counts."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return declared.declaration_result
    finally:
        await connection.close()


async def consumers(url: str, queue: str) -> int:
    """Consumers of ``queue`` right now, asked over ``url`` (a cluster node, or the broker)."""
    return int((await _declared(url, queue)).consumer_count or 0)


async def depth(name: str) -> int:
    """Ready messages in ``name`` right now (passive declare)."""
    return int((await _declared(AMQP_URL, name)).message_count or 0)


async def depths(*names: str) -> dict[str, int]:
    return {name: await depth(name) for name in names}


async def wait_depth(name: str, expected: int, timeout: float = 15.0) -> None:
    """Wait until ``name`` holds exactly ``expected`` ready messages."""
    deadline = time.monotonic() + timeout
    current = await depth(name)
    while current != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} holds {current} messages, expected {expected}")
        await asyncio.sleep(0.05)
        current = await depth(name)


async def drain(queue: aio_pika.abc.AbstractQueue) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Every message in ``queue`` right now (no waiting: a confirmed message is there)."""
    messages = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        messages.append(message)
    return messages


async def drain_named(name: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """``drain`` of the queue called ``name``, on a connection of its own."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        return await drain(await channel.declare_queue(name, passive=True))
    finally:
        await connection.close()
