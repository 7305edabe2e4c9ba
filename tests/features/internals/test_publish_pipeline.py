"""Publishes written together (``_internal/aiormq_frames``, ``publish_pipeline``) against the
real broker: each message keeps its own outcome, and aiormq's confirm bookkeeping (the names
hare reaches into) still works and is left clean."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
from aio_pika.exceptions import PublishError
from aiormq.abc import AbstractChannel
from pamqp import commands

from faststream_hare._internal.aiormq_frames import Publish, write_publishes
from faststream_hare._internal.publish_pipeline import PublishPipeline
from tests.support.rabbit_admin import AMQP_URL

pytestmark = pytest.mark.rabbit


@pytest.fixture
async def confirm_channel() -> AsyncIterator[AbstractChannel]:
    """aiormq's channel under an aio-pika confirm channel, as ``ConfirmedPublisher`` opens it."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        yield await channel.get_underlay_channel()
    finally:
        await connection.close()


@pytest.fixture
async def queue(prefix: str) -> str:
    """A durable queue of the test's own (deleted with its prefix)."""
    name = f"{prefix}.q"
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(name, durable=True)
    return name


@pytest.fixture
async def pipeline(confirm_channel: AbstractChannel) -> AsyncIterator[PublishPipeline]:
    """A pipeline writing on the confirm channel, closed after the test."""

    async def channel() -> AbstractChannel:
        return confirm_channel

    pipeline = PublishPipeline(channel)
    yield pipeline
    await pipeline.close()


async def bodies(queue: str) -> list[bytes]:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        found = []
        source = await channel.declare_queue(queue, passive=True)
        while (message := await source.get(fail=False, no_ack=True)) is not None:
            found.append(message.body)
        return found


def publish(queue: str, body: bytes, **properties: Any) -> Publish:
    return Publish("", queue, body, commands.Basic.Properties(delivery_mode=2, **properties))


async def outcome_of(future: asyncio.Future[Any] | Exception) -> object:
    if isinstance(future, Exception):
        return type(future)
    try:
        return type(await future)
    except Exception as exc:
        return type(exc)


async def test_one_write_keeps_an_outcome_per_message(
    prefix: str, queue: str, confirm_channel: AbstractChannel
) -> None:
    batch = [
        publish(queue, b"routed"),
        publish(f"{prefix}.nowhere", b"returned"),
        publish(queue, b"bad header", headers={"x": object()}),
        publish(queue, b"big" * 100_000),  # split over several body frames
        publish(queue, b""),
    ]
    outcomes = [await outcome_of(f) for f in await write_publishes(confirm_channel, batch)]
    assert outcomes == [
        commands.Basic.Ack,
        PublishError,
        outcomes[2],  # pamqp's own error for the value it cannot encode
        commands.Basic.Ack,
        commands.Basic.Ack,
    ]
    assert issubclass(outcomes[2], Exception)  # type: ignore[arg-type]
    assert sorted(await bodies(queue)) == sorted([b"routed", b"big" * 100_000, b""])
    raw: Any = confirm_channel
    assert raw.confirmations == {}
    assert raw.message_id_delivery_tag == {}
    assert raw.delivery_tag == 4  # the message that could not be encoded took no tag


async def test_a_turn_of_publishes_is_confirmed_and_stored_exactly_once(
    queue: str, pipeline: PublishPipeline
) -> None:
    sent = [f"m{n}".encode() for n in range(1_000)]
    acks = await asyncio.gather(*(pipeline.submit(publish(queue, body)) for body in sent))
    assert {type(ack) for ack in acks} == {commands.Basic.Ack}
    assert sorted(await bodies(queue)) == sorted(sent)


async def test_a_publisher_that_gave_up_before_the_write_is_not_published(
    queue: str, pipeline: PublishPipeline
) -> None:
    kept = pipeline.submit(publish(queue, b"kept"))
    pipeline.submit(publish(queue, b"given up")).cancel()
    await kept
    assert await bodies(queue) == [b"kept"]


async def test_no_channel_fails_every_waiting_publish_with_the_reason() -> None:
    async def no_channel() -> AbstractChannel:
        msg = "no link"
        raise ConnectionError(msg)

    pipeline = PublishPipeline(no_channel)
    waiting = [pipeline.submit(publish("q", b"x")) for _ in range(3)]
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert [type(result) for result in results] == [ConnectionError] * 3
    await pipeline.close()


async def test_a_closed_channel_fails_the_publishes_written_on_it(
    prefix: str, queue: str, confirm_channel: AbstractChannel
) -> None:
    batch = [publish(queue, b"a"), Publish(f"{prefix}.no-exchange", "k", b"b", _props())]
    futures = await write_publishes(confirm_channel, batch)
    results = await asyncio.gather(*futures, return_exceptions=True)  # type: ignore[arg-type]
    assert all(isinstance(result, BaseException) for result in results[1:])
    raw: Any = confirm_channel
    assert raw.is_closed  # as with aiormq's own publish: the 404 closes the channel


def _props() -> commands.Basic.Properties:
    return commands.Basic.Properties(delivery_mode=2)
