"""``publish_message`` against the real RabbitMQ: encoding, confirms, returns, outages."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aio_pika
import pytest

from faststream_hare import HareBroker, HareSettings, PublishResult, Unique, signals
from tests.support.amqp import drain
from tests.support.fault_proxy import FaultProxy
from tests.support.pools import running
from tests.support.rabbit_admin import AMQP_URL, RabbitAdmin

pytestmark = pytest.mark.rabbit


def make_broker(prefix: str, **settings: Any) -> HareBroker:
    return HareBroker(
        f"{AMQP_URL.rstrip('/')}/?name={prefix}",
        settings=HareSettings(reconnect_interval_ms=200, **settings),
        logger=None,
    )


async def bound_queue(
    channel: aio_pika.abc.AbstractChannel, name: str, exchange: str, routing_key: str
) -> aio_pika.abc.AbstractQueue:
    queue = await channel.declare_queue(name, durable=True)
    await queue.bind(exchange, routing_key)
    return queue


async def test_a_dict_is_confirmed_json_with_content_type_and_message_id(
    prefix: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    broker = make_broker(prefix)
    orders = broker.publisher(
        exchange=f"{prefix}.ex", routing_key="order.created", headers={"source": "shop"}, priority=3
    )
    started = time.time()
    async with running(broker):
        queue = await bound_queue(channel, f"{prefix}.orders", f"{prefix}.ex", "order.created")
        results = [await orders.publish_message({"id": n, "name": "grüß"}) for n in range(3)]
        # OK means RabbitMQ confirmed it: it is in the queue now, without waiting
        messages = await drain(queue)
    assert results == [PublishResult.OK] * 3
    assert [m.body for m in messages] == [f'{{"id":{n},"name":"grüß"}}'.encode() for n in range(3)]
    assert {m.content_type for m in messages} == {"application/json"}
    assert {m.delivery_mode for m in messages} == {aio_pika.DeliveryMode.PERSISTENT}
    assert [(m.headers, m.priority) for m in messages] == [({"source": "shop"}, 3)] * 3
    ids = [m.message_id for m in messages]
    assert len(set(ids)) == 3
    assert all(i is not None and len(i) == 32 for i in ids)
    # the publish time, in seconds (AMQP's resolution)
    assert all(
        m.timestamp is not None and abs(m.timestamp.timestamp() - started) < 60 for m in messages
    )


async def test_bytes_arrive_byte_identical_and_str_as_utf8(
    prefix: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    broker = make_broker(prefix)
    jobs = broker.publisher(exchange=f"{prefix}.ex", routing_key="jobs")
    raw = bytes(range(256)) * 4
    async with running(broker):
        queue = await bound_queue(channel, f"{prefix}.jobs", f"{prefix}.ex", "jobs")
        assert await jobs.publish_message(raw) is PublishResult.OK
        assert await jobs.publish_message("grüß") is PublishResult.OK
        raw_message, text_message = await drain(queue)
    assert raw_message.body == raw
    assert raw_message.content_type is None
    assert (text_message.body, text_message.content_type) == ("grüß".encode(), "text/plain")


async def test_default_exchange_routes_by_queue_name(
    prefix: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    """HareMq crashes its channel (and then the connection) on ``exchange: nil``."""
    broker = make_broker(prefix)
    queue = await channel.declare_queue(f"{prefix}.direct", durable=True)
    jobs = broker.publisher(exchange=None, routing_key=f"{prefix}.direct")
    async with running(broker):
        assert await jobs.publish_message({"n": 1}) is PublishResult.OK
        assert await jobs.publish_message({"n": 2}) is PublishResult.OK
        assert [m.body for m in await drain(queue)] == [b'{"n":1}', b'{"n":2}']


async def test_nothing_bound_is_unroutable_not_silently_lost(
    prefix: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    broker = make_broker(prefix)
    early = broker.publisher(
        exchange=f"{prefix}.ex", routing_key="order.created", unique=Unique(period_ms=60_000)
    )
    async with running(broker):
        assert await early.publish_message({"id": 1}) is PublishResult.UNROUTABLE
        queue = await bound_queue(channel, f"{prefix}.orders", f"{prefix}.ex", "order.created")
        # the unroutable publish released its claim: the same message now goes out
        assert await early.publish_message({"id": 1}) is PublishResult.OK
        assert await early.publish_message({"id": 1}) is PublishResult.DUPLICATE
        assert len(await drain(queue)) == 1


async def test_start_declares_the_exchange_and_signals_connected(
    prefix: str, admin: RabbitAdmin
) -> None:
    connected: list[dict[str, Any]] = []

    def on_connected(sender: object, *, measurements: Any, metadata: dict[str, Any]) -> None:
        connected.append(metadata)

    topic = make_broker(prefix)
    topic.publisher(exchange=f"{prefix}.topic", routing_key="a", hare=True)
    direct = make_broker(prefix, exchange_type="direct")
    direct.publisher(exchange=f"{prefix}.direct", routing_key="b", hare=True)
    signals.publisher_connected.connect(on_connected)
    try:
        async with running(topic), running(direct):
            pass
    finally:
        signals.publisher_connected.disconnect(on_connected)
    for name, kind in ((f"{prefix}.topic", "topic"), (f"{prefix}.direct", "direct")):
        info = admin.exchange(name)
        assert info is not None
        assert (info["type"], info["durable"]) == (kind, True)
    mine = [m for m in connected if str(m["exchange"]).startswith(prefix)]
    assert [(m["exchange"], m["routing_key"]) for m in mine] == [
        (f"{prefix}.topic", "a"),
        (f"{prefix}.direct", "b"),
    ]
    assert all(m["publisher"] for m in mine)


async def test_publish_before_start_is_not_connected_then_ok(
    prefix: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    broker = make_broker(prefix)
    jobs = broker.publisher(exchange=f"{prefix}.ex", routing_key="jobs", unique=Unique())
    not_connected: list[dict[str, Any]] = []

    def on_not_connected(sender: object, *, measurements: Any, metadata: dict[str, Any]) -> None:
        not_connected.append(metadata)

    signals.publisher_message_not_connected.connect(on_not_connected)
    try:
        result = await asyncio.wait_for(jobs.publish_message({"n": 1}), 5)
    finally:
        signals.publisher_message_not_connected.disconnect(on_not_connected)
    assert result is PublishResult.NOT_CONNECTED
    [metadata] = not_connected
    assert (metadata["exchange"], metadata["routing_key"]) == (f"{prefix}.ex", "jobs")
    assert "not connected" in metadata["reason"]
    async with running(broker):
        queue = await bound_queue(channel, f"{prefix}.jobs", f"{prefix}.ex", "jobs")
        assert await jobs.publish_message({"n": 1}) is PublishResult.OK, "not a DUPLICATE"
        assert len(await drain(queue)) == 1


async def test_a_cut_connection_gives_not_connected_then_ok_after_recovery(
    prefix: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    # A publish during a short blip waits (up to confirm_timeout_ms) for the reconnect; to see
    # NOT_CONNECTED the link stays down (a proxy that refuses connections) for longer than that.
    async with FaultProxy() as proxy:
        broker = HareBroker(
            proxy.url(),
            settings=HareSettings(reconnect_interval_ms=200, confirm_timeout_ms=1_000),
            logger=None,
        )
        orders = broker.publisher(
            exchange=f"{prefix}.ex", routing_key="order.created", unique=Unique(period_ms=60_000)
        )
        async with running(broker):
            queue = await bound_queue(channel, f"{prefix}.orders", f"{prefix}.ex", "order.created")
            assert await orders.publish_message({"id": 0}) is PublishResult.OK
            proxy.block()
            failed = await asyncio.wait_for(orders.publish_message({"id": 1}), 5)
            assert failed is PublishResult.NOT_CONNECTED
            proxy.unblock()
            result = failed
            for _ in range(100):  # the robust connection comes back after ~200 ms
                result = await orders.publish_message({"id": 1})
                if result is not PublishResult.NOT_CONNECTED:
                    break
                await asyncio.sleep(0.1)
            assert result is PublishResult.OK, "the failed publish left no claim behind"
            assert await orders.publish_message({"id": 1}) is PublishResult.DUPLICATE
            bodies = [m.body for m in await drain(queue)]
    assert bodies == [b'{"id":0}', b'{"id":1}']


async def test_an_exchange_a_plain_subscriber_declared_is_kept(
    prefix: str, admin: RabbitAdmin
) -> None:
    """Swapping RabbitBroker for HareBroker changes nothing: a plain subscriber declares its
    exchange as FastStream does (direct) and the hare publisher uses it as it is."""
    broker = make_broker(prefix)
    got: list[dict[str, int]] = []

    @broker.subscriber(f"{prefix}.plain", exchange=f"{prefix}.ex")
    async def plain(body: dict[str, int]) -> None:
        got.append(body)

    out = broker.publisher(exchange=f"{prefix}.ex", routing_key=f"{prefix}.plain")
    async with running(broker):
        assert await out.publish_message({"n": 1}) is PublishResult.OK
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.05)
    assert got == [{"n": 1}]
    info = admin.exchange(f"{prefix}.ex")
    assert info is not None
    assert info["type"] == "direct"
