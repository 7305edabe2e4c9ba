"""Reading ``Q.dead`` never deletes, hides for longer than the read, or reorders a dead letter.

On a quorum queue every message a reader gives back counts towards the queue's delivery limit
(RabbitMQ 4.0 sets 20 on every quorum queue that sets none), so these tests read a quorum
``Q.dead`` declared as hare versions before the limit existed declared it, far more often than
the limit, on whichever broker the suite runs against (``HARE_TEST_AMQP_URL``).
"""

from __future__ import annotations

import asyncio

import aio_pika
import pytest

from faststream_hare.config.settings import DEFAULT_MESSAGE_TTL_MS
from faststream_hare.dead_letters import (
    DeadLetter,
    broker_default_limit,
    browse_letters,
    read_letters,
    replay_letters,
)
from faststream_hare.ops import dead_letters
from faststream_hare.topology.delivery_limit import server_version, unlimited_argument
from tests.support.rabbit_admin import AMQP_URL, MGMT_URL

pytestmark = pytest.mark.rabbit

IDS = [f"d{i}" for i in range(5)]


async def seed_quorum_dead(queue: str, arguments: dict[str, object] | None = None) -> str:
    """``queue`` and a quorum ``queue.dead`` holding ``IDS``; returns the broker's version."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        quorum = {"x-queue-type": "quorum"}
        await channel.declare_queue(queue, durable=True, arguments=quorum)
        await channel.declare_queue(
            f"{queue}.dead",
            durable=True,
            arguments={**quorum, "x-message-ttl": DEFAULT_MESSAGE_TTL_MS, **(arguments or {})},
        )
        for message_id in IDS:
            await channel.default_exchange.publish(
                aio_pika.Message(message_id.encode(), message_id=message_id),
                routing_key=f"{queue}.dead",
            )
        version = connection.transport.connection.server_properties.get("version", b"?")
        return version.decode() if isinstance(version, bytes) else str(version)
    finally:
        await connection.close()


async def settled_depth(name: str, expected: int = len(IDS)) -> int:
    """Ready messages by passive declare, asked until it shows ``expected`` (for up to 5 s):
    a quorum queue's count lags behind publishes by a moment."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        for _ in range(50):
            queue = await channel.declare_queue(name, passive=True)
            count = int(queue.declaration_result.message_count or 0)
            if count == expected:
                break
            await asyncio.sleep(0.1)
        return count
    finally:
        await connection.close()


async def test_fifty_listings_leave_every_dead_letter_in_order(prefix: str) -> None:
    version = await seed_quorum_dead(prefix)
    print(f"RabbitMQ {version}: 50 listings of a quorum Q.dead without x-delivery-limit")
    for _ in range(50):
        letters = await dead_letters.list_dead(AMQP_URL, prefix)
        assert [letter.message_id for letter in letters] == IDS
    assert await settled_depth(f"{prefix}.dead") == len(IDS)


async def test_an_explicit_delivery_limit_is_respected(prefix: str) -> None:
    """A limit of 3: without re-filing the fourth read would have deleted every message."""
    await seed_quorum_dead(prefix, {"x-delivery-limit": 3})
    connection = await aio_pika.connect(AMQP_URL)
    try:
        for _ in range(12):
            letters = await read_letters(connection, prefix, delivery_limit=3)
            assert [letter.message_id for letter in letters] == IDS
            report = await replay_letters(connection, prefix, dry_run=True, delivery_limit=3)
            assert report.ids == tuple(IDS)
            browsed: list[DeadLetter] = []
            await browse_letters(
                connection, prefix, count=10, visit=browsed.append, delivery_limit=3
            )
            assert [letter.message_id for letter in browsed] == IDS
    finally:
        await connection.close()
    assert await settled_depth(f"{prefix}.dead") == len(IDS)


async def test_the_broker_default_limit_follows_the_version() -> None:
    connection = await aio_pika.connect(AMQP_URL)
    try:
        version = str(connection.transport.connection.server_properties.get("version", b""))
        expected = 20 if version.strip("b'").split(".")[0] >= "4" else None
        assert broker_default_limit(connection) == expected
    finally:
        await connection.close()


async def test_a_dead_queue_without_limit_is_never_reordered(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """``Q.dead`` as hare declares it now (no limit; ``x-delivery-limit: -1`` on RabbitMQ 4):
    the management API says so, and 30 listings move nothing to the tail."""
    connection = await aio_pika.connect(AMQP_URL)
    version = server_version(connection)
    await connection.close()
    argument = unlimited_argument(version)
    await seed_quorum_dead(prefix, {} if argument is None else {"x-delivery-limit": argument})
    for _ in range(30):
        letters = await dead_letters.list_dead(AMQP_URL, prefix, mgmt_url=MGMT_URL)
        assert [letter.message_id for letter in letters] == IDS
    assert "to its tail" not in caplog.text
    assert await settled_depth(f"{prefix}.dead") == len(IDS)
