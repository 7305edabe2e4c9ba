"""``write_publishes`` when the connection's write queue is full and the channel then dies.

aiormq's write queue is bounded, and a connection whose writer has ended leaves it full for
good: a write waiting for room must end with the channel, and hand its delivery tags back.
The fake stands in for the few attributes of aiormq's channel the module uses; the real ones
are exercised against RabbitMQ in ``tests/features/internals/test_publish_pipeline.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import aiormq
import pytest
from aiormq.exceptions import ChannelInvalidStateError
from pamqp import commands

from faststream_hare._internal.aiormq_frames import Publish, missing_bookkeeping, write_publishes
from tests.support.rabbit_admin import AMQP_URL


class FakeChannel:
    """The attributes of aiormq's ``Channel`` that ``write_publishes`` touches."""

    def __init__(self, queue_size: int) -> None:
        loop = asyncio.get_running_loop()
        self.is_closed = False
        self.lock = asyncio.Lock()
        self.delivery_tag = 7
        self.number = 1
        self.max_content_size = 131_064
        self.confirmations: dict[int, asyncio.Future[Any]] = {}
        self.message_id_delivery_tag: dict[str, int] = {}
        self.write_queue: asyncio.Queue[object] = asyncio.Queue(maxsize=queue_size)
        self.closed: asyncio.Future[None] = loop.create_future()

    @property
    def closing(self) -> asyncio.Future[None]:
        observer: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed.add_done_callback(lambda _: observer.done() or observer.set_result(None))
        return observer

    def create_future(self) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()


def publishes(count: int) -> list[Publish]:
    return [
        Publish("", "q", b"x", commands.Basic.Properties(delivery_mode=2)) for _ in range(count)
    ]


async def test_a_write_into_a_dead_connections_full_queue_ends_with_the_channel() -> None:
    channel = FakeChannel(queue_size=1)
    channel.write_queue.put_nowait("frame nobody will ever write")
    write = asyncio.ensure_future(write_publishes(cast("Any", channel), publishes(3)))
    await asyncio.sleep(0.05)
    assert not write.done()  # waiting for room
    channel.closed.set_result(None)
    with pytest.raises(ChannelInvalidStateError):
        await write
    assert channel.delivery_tag == 7  # handed back: the broker never saw them
    assert channel.confirmations == {}
    assert channel.message_id_delivery_tag == {}


async def test_a_write_waits_for_room_while_the_channel_lives() -> None:
    channel = FakeChannel(queue_size=1)
    channel.write_queue.put_nowait("an earlier frame")
    write = asyncio.ensure_future(write_publishes(cast("Any", channel), publishes(2)))
    await asyncio.sleep(0.05)
    channel.write_queue.get_nowait()  # the writer takes the earlier frame
    outcomes = await write
    assert len(outcomes) == 2
    assert channel.delivery_tag == 9
    assert sorted(channel.confirmations) == [8, 9]
    assert channel.write_queue.qsize() == 1  # all of them in one frame buffer


class PublicOnlyChannel:
    """An aiormq channel without the bookkeeping: only the public ``basic_publish``."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, str, str, bool]] = []

    async def basic_publish(
        self, body: bytes, *, exchange: str, routing_key: str, properties: Any, mandatory: bool
    ) -> str:
        self.sent.append((body, exchange, routing_key, mandatory))
        return "basic.ack"


async def test_without_the_bookkeeping_each_message_goes_through_basic_publish() -> None:
    channel = PublicOnlyChannel()
    assert "message_id_delivery_tag" in missing_bookkeeping(channel)
    outcomes = await write_publishes(cast("Any", channel), publishes(3))
    assert [await cast("Any", outcome) for outcome in outcomes] == ["basic.ack"] * 3
    assert channel.sent == [(b"x", "", "q", True)] * 3


async def test_a_channel_with_the_bookkeeping_is_written_in_one_buffer() -> None:
    channel = FakeChannel(queue_size=10)
    assert missing_bookkeeping(channel) == ()
    await write_publishes(cast("Any", channel), publishes(3))
    assert channel.write_queue.qsize() == 1


@pytest.mark.rabbit
async def test_the_installed_aiormq_keeps_the_bookkeeping() -> None:
    """The releases the pins admit: hare writes its frames on a real channel."""
    connection = await aiormq.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        assert missing_bookkeeping(channel) == ()
    finally:
        await connection.close()
