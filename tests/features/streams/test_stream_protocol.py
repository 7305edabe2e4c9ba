"""Stream subscribers on a real RabbitMQ over the stream protocol, with counts: offsets,
resuming, outages (``test_streams.py``: the scenarios of both transports)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from types import TracebackType
from typing import Any

import aio_pika
import pytest
from faststream.rabbit.annotations import RabbitMessage
from rstream import Consumer, OffsetNotFound

from faststream_hare import HareBroker, HareError, HareSettings, signals
from tests.support.broker import AMQP_HOST, STREAM_PORT
from tests.support.rabbit_admin import AMQP_URL, RabbitAdmin
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit


class Feeder:
    """An AMQP connection of its own (tests never close it) that fills a stream queue."""

    def __init__(self, queue: str, exchange: str | None = None) -> None:
        self.queue = queue
        self.exchange_name = exchange
        self._connection: aio_pika.abc.AbstractConnection | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None

    async def __aenter__(self) -> Feeder:
        self._connection = await aio_pika.connect(AMQP_URL)
        channel = await self._connection.channel()
        queue = await channel.declare_queue(
            self.queue, durable=True, arguments={"x-queue-type": "stream"}
        )
        if self.exchange_name:
            self._exchange = await channel.declare_exchange(
                self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
            )
            await queue.bind(self._exchange, routing_key=self.queue)
        else:
            self._exchange = channel.default_exchange
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def publish(self, *bodies: Any, **message_kwargs: Any) -> None:
        """Publish each body in order (dicts as JSON, bytes as they are)."""
        assert self._exchange is not None
        for body in bodies:
            if isinstance(body, bytes):
                message = aio_pika.Message(body, **message_kwargs)
            else:
                message = aio_pika.Message(
                    json.dumps(body).encode(), content_type="application/json", **message_kwargs
                )
            await self._exchange.publish(message, routing_key=self.queue)


async def stored_offset(queue: str, name: str) -> int | None:
    """The offset the server holds for consumer ``name`` of stream ``queue``."""
    consumer = Consumer(AMQP_HOST, STREAM_PORT, username="guest", password="guest")
    try:
        return await consumer.query_offset(queue, name)
    except OffsetNotFound:
        return None
    finally:
        await consumer.close()


def numbers(count: int, start: int = 0) -> list[dict[str, int]]:
    return [{"n": n} for n in range(start, start + count)]


def fast_settings(url: str) -> HareSettings:
    return HareSettings(url=url, reconnect_interval_ms=200, shutdown_drain_timeout_ms=5_000)


async def test_first_replays_everything_in_order_then_follows(prefix: str, broker_url: str) -> None:
    queue, exchange = f"{prefix}.events", f"{prefix}.ex"
    broker = HareBroker(broker_url)
    seen: list[tuple[dict[str, int], int]] = []
    connected: list[dict[str, Any]] = []

    @broker.subscriber(queue, exchange=exchange, stream=True, stream_offset="first")
    async def audit(event: dict[str, int], message: RabbitMessage) -> None:
        seen.append((event, message.headers["x-stream-offset"]))

    def on_connected(_: Any, *, measurements: Any, metadata: dict[str, Any]) -> None:
        connected.append(metadata)

    async with Feeder(queue, exchange) as feeder:
        await feeder.publish(*numbers(5))
        with signals.consumer_connected.connected_to(on_connected):
            async with broker:
                await broker.start()
                await eventually(lambda: len(seen) == 5)
                await broker.publish({"n": 5}, exchange=exchange, routing_key=queue)
                await feeder.publish({"n": 6})
                await eventually(lambda: len(seen) == 7)
                await asyncio.sleep(0.3)  # nothing more may arrive

    assert seen == [({"n": n}, n) for n in range(7)]
    assert [(m["queue"], m["stream"]) for m in connected] == [(queue, True)]


async def test_next_sees_only_messages_published_after_start(prefix: str, broker_url: str) -> None:
    queue = f"{prefix}.events"
    broker = HareBroker(broker_url)
    seen: list[Any] = []

    @broker.subscriber(queue, stream=True)  # stream_offset defaults to "next"
    async def audit(event: Any) -> None:
        seen.append(event)

    async with Feeder(queue) as feeder:
        await feeder.publish(*numbers(3))
        async with broker:
            await broker.start()
            await feeder.publish(*numbers(3, start=3), b"\x00raw bytes")
            await eventually(lambda: len(seen) == 4)
            await asyncio.sleep(0.3)

    assert seen == [{"n": 3}, {"n": 4}, {"n": 5}, b"\x00raw bytes"]


async def test_int_offset_starts_there(prefix: str, broker_url: str) -> None:
    queue = f"{prefix}.events"
    broker = HareBroker(broker_url)
    seen: list[int] = []

    @broker.subscriber(queue, stream=True, stream_offset=4)
    async def audit(event: dict[str, int]) -> None:
        seen.append(event["n"])

    async with Feeder(queue) as feeder:
        await feeder.publish(*numbers(6))
        async with broker:
            await broker.start()
            await eventually(lambda: len(seen) == 2)
            await asyncio.sleep(0.3)

    assert seen == [4, 5]


async def test_datetime_offset_starts_at_messages_at_or_after_it(
    prefix: str, broker_url: str
) -> None:
    queue = f"{prefix}.events"
    broker = HareBroker(broker_url)
    seen: list[int] = []
    async with Feeder(queue) as feeder:
        await feeder.publish(*numbers(3))
        await asyncio.sleep(0.3)  # the stream timestamps chunks in milliseconds
        since = datetime.now(timezone.utc)
        await asyncio.sleep(0.3)
        await feeder.publish(*numbers(3, start=3))

        @broker.subscriber(queue, stream=True, stream_offset=since)
        async def audit(event: dict[str, int]) -> None:
            seen.append(event["n"])

        async with broker:
            await broker.start()
            await eventually(lambda: len(seen) == 3)
            await asyncio.sleep(0.3)

    assert seen == [3, 4, 5]


async def test_last_starts_at_the_last_chunk(prefix: str, broker_url: str) -> None:
    queue = f"{prefix}.events"
    broker = HareBroker(broker_url)
    seen: list[int] = []

    @broker.subscriber(queue, stream=True, stream_offset="last")
    async def audit(event: dict[str, int]) -> None:
        seen.append(event["n"])

    async with Feeder(queue) as feeder:
        await feeder.publish(*numbers(5))
        await asyncio.sleep(0.5)  # written; the next message lands in a chunk of its own
        await feeder.publish({"n": 5})
        await asyncio.sleep(0.5)
        async with broker:
            await broker.start()
            await eventually(lambda: len(seen) == 1)
            await feeder.publish({"n": 6})
            await eventually(lambda: len(seen) == 2)
            await asyncio.sleep(0.3)

    assert seen == [5, 6]


async def test_two_subscribers_on_one_stream_each_get_every_message(
    prefix: str, broker_url: str
) -> None:
    queue, exchange = f"{prefix}.events", f"{prefix}.ex"
    broker = HareBroker(broker_url)
    first: list[int] = []
    second: list[int] = []

    @broker.subscriber(queue, exchange=exchange, stream=True, stream_offset="first")
    async def one(event: dict[str, int]) -> None:
        first.append(event["n"])

    @broker.subscriber(queue, exchange=exchange, stream=True, stream_offset="first")
    async def two(event: dict[str, int]) -> None:
        second.append(event["n"])

    async with broker:
        await broker.start()
        for body in numbers(20):
            await broker.publish(body, exchange=exchange, routing_key=queue)
        await eventually(lambda: len(first) == len(second) == 20)
        await asyncio.sleep(0.3)

    assert first == second == list(range(20))


async def test_named_consumer_resumes_after_restart_without_gaps_or_repeats(
    prefix: str, broker_url: str
) -> None:
    queue = f"{prefix}.events"
    name = f"{prefix}.audit"
    seen: list[int] = []
    offsets: list[int] = []

    def make_broker() -> HareBroker:
        broker = HareBroker(broker_url)

        @broker.subscriber(queue, stream=True, stream_offset="first", stream_consumer_name=name)
        async def audit(event: dict[str, int], message: RabbitMessage) -> None:
            seen.append(event["n"])
            offsets.append(message.headers["x-stream-offset"])

        return broker

    async with Feeder(queue) as feeder:
        await feeder.publish(*numbers(10))
        async with make_broker() as broker:
            await broker.start()
            await eventually(lambda: len(seen) == 10)
        assert await stored_offset(queue, name) == 9  # stored on stop, under exactly `name`

        await feeder.publish(*numbers(5, start=10))  # while the app is down
        async with make_broker() as broker:  # stream_offset="first" is ignored now
            await broker.start()
            await eventually(lambda: len(seen) == 15)
            await asyncio.sleep(0.5)

    assert seen == list(range(15))
    # the stored offset is the last processed message's (offset entries take stream offsets too)
    assert await stored_offset(queue, name) == offsets[-1]


async def test_named_consumer_without_stored_offset_starts_at_stream_offset(
    prefix: str, broker_url: str
) -> None:
    queue = f"{prefix}.events"
    broker = HareBroker(broker_url)
    seen: list[int] = []

    @broker.subscriber(queue, stream=True, stream_offset=2, stream_consumer_name=f"{prefix}.new")
    async def audit(event: dict[str, int]) -> None:
        seen.append(event["n"])

    async with Feeder(queue) as feeder:
        await feeder.publish(*numbers(4))
        async with broker:
            await broker.start()
            await eventually(lambda: len(seen) == 2)
            await asyncio.sleep(0.3)

    assert seen == [2, 3]


async def test_failing_handler_moves_on_and_keeps_the_connection(
    prefix: str, broker_url: str
) -> None:
    queue, classic = f"{prefix}.events", f"{prefix}.classic"
    broker = HareBroker(broker_url)
    handled: list[int] = []
    classic_seen: list[int] = []
    failures: list[dict[str, Any]] = []
    disconnects: list[dict[str, Any]] = []

    @broker.subscriber(queue, stream=True, stream_offset="first")
    async def audit(event: dict[str, int]) -> None:
        if event["n"] == 2:
            raise ValueError("cannot audit 2")
        handled.append(event["n"])

    @broker.subscriber(classic, hare=True)
    async def plain(body: dict[str, int]) -> None:
        classic_seen.append(body["n"])

    def on_failed(_: Any, *, measurements: Any, metadata: dict[str, Any]) -> None:
        failures.append(metadata)

    def on_disconnected(_: Any, *, measurements: Any, metadata: dict[str, Any]) -> None:
        disconnects.append(metadata)

    with (
        signals.stream_message_failed.connected_to(on_failed),
        signals.connection_disconnected.connected_to(on_disconnected),
    ):
        async with Feeder(queue) as feeder, broker:
            await broker.start()
            await broker.publish({"n": 0}, queue=classic)
            await eventually(lambda: classic_seen == [0])
            await feeder.publish(*numbers(5))
            await eventually(lambda: len(handled) == 4)
            await broker.publish({"n": 1}, queue=classic)  # the shared connection is still up
            await eventually(lambda: classic_seen == [0, 1])
            await feeder.publish({"n": 5})
            await eventually(lambda: len(handled) == 5)
            await asyncio.sleep(0.3)

    assert handled == [0, 1, 3, 4, 5]
    assert [(f["queue"], f["offset"], f["exception"]) for f in failures] == [
        (queue, 2, "ValueError")
    ]
    assert disconnects == []


async def test_recovers_after_the_connection_is_closed_without_loss_or_repeats(
    prefix: str, broker_url: str, admin: RabbitAdmin
) -> None:
    queue = f"{prefix}.events"
    name = f"{prefix}.audit"
    broker = HareBroker(broker_url, settings=fast_settings(broker_url))
    started: list[int] = []
    finished: list[int] = []
    offsets: list[int] = []
    connected: list[dict[str, Any]] = []

    @broker.subscriber(queue, stream=True, stream_offset="first", stream_consumer_name=name)
    async def audit(event: dict[str, int], message: RabbitMessage) -> None:
        started.append(event["n"])
        await asyncio.sleep(0.05)  # the connection drops while handlers run
        finished.append(event["n"])
        offsets.append(message.headers["x-stream-offset"])

    def on_connected(_: Any, *, measurements: Any, metadata: dict[str, Any]) -> None:
        connected.append(metadata)

    with signals.consumer_connected.connected_to(on_connected):
        async with Feeder(queue) as feeder, broker:
            await broker.start()
            stream_connection = f"{prefix}.stream.{queue}"
            await eventually(lambda: bool(admin.connections(stream_connection)), timeout=20)
            await feeder.publish(*numbers(10))
            await eventually(lambda: len(finished) >= 3)
            assert admin.close_connections(prefix) >= 2  # the AMQP and the stream connection
            await feeder.publish(*numbers(5, start=10))  # while the consumer is down
            await eventually(lambda: len(connected) == 2, timeout=20)
            await feeder.publish(*numbers(5, start=15))
            await eventually(lambda: len(finished) == 20, timeout=20)
            await asyncio.sleep(0.5)

    assert started == finished == list(range(20))  # none cancelled, lost or repeated
    assert len(set(offsets)) == 20
    assert [m["stream"] for m in connected] == [True, True]
    assert await stored_offset(queue, name) == offsets[-1]


async def test_unnamed_consumer_also_resumes_after_a_lost_connection(
    prefix: str, broker_url: str, admin: RabbitAdmin
) -> None:
    queue = f"{prefix}.events"
    broker = HareBroker(broker_url, settings=fast_settings(broker_url))
    seen: list[int] = []

    @broker.subscriber(queue, stream=True, stream_offset="first")
    async def audit(event: dict[str, int]) -> None:
        seen.append(event["n"])

    async with Feeder(queue) as feeder, broker:
        await broker.start()
        await feeder.publish(*numbers(5))
        await eventually(lambda: len(seen) == 5)
        stream_connection = f"{prefix}.stream.{queue}"
        await eventually(lambda: bool(admin.connections(stream_connection)), timeout=20)
        assert admin.close_connections(stream_connection) == 1  # only the stream connection
        await feeder.publish(*numbers(5, start=5))
        await eventually(lambda: len(seen) == 10, timeout=20)
        await asyncio.sleep(0.5)

    assert seen == list(range(10))  # resumed after 4 in memory, not from "first" again


async def test_graceful_stop_waits_for_the_handler_in_flight(prefix: str, broker_url: str) -> None:
    queue = f"{prefix}.events"
    name = f"{prefix}.slow"
    started = asyncio.Event()
    finished: list[int] = []

    def make_broker() -> HareBroker:
        broker = HareBroker(broker_url)

        @broker.subscriber(queue, stream=True, stream_offset="first", stream_consumer_name=name)
        async def slow(event: dict[str, int]) -> None:
            started.set()
            await asyncio.sleep(0.5)
            finished.append(event["n"])

        return broker

    async with Feeder(queue) as feeder:
        await feeder.publish(*numbers(3))
        async with make_broker() as broker:
            await broker.start()
            await started.wait()
        assert finished == [0]  # stop waited for it; the two others were not started
        assert await stored_offset(queue, name) == 0

        async with make_broker() as broker:
            await broker.start()
            await eventually(lambda: len(finished) == 3)
            await asyncio.sleep(0.3)

    assert finished == [0, 1, 2]


async def test_headers_and_properties_reach_the_handler(prefix: str, broker_url: str) -> None:
    queue = f"{prefix}.events"
    broker = HareBroker(broker_url)
    seen: list[RabbitMessage] = []

    @broker.subscriber(queue, stream=True, stream_offset="first")
    async def audit(event: dict[str, str], message: RabbitMessage) -> None:
        seen.append(message)

    async with Feeder(queue) as feeder:
        await feeder.publish(
            {"k": "v"},
            headers={"tenant": "acme", "retry_count": 3, "flag": True},
            message_id="m-1",
            correlation_id="c-1",
            priority=4,
            app_id="billing",
            type="order.created",
            reply_to="replies",
            expiration=60,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        async with broker:
            await broker.start()
            await eventually(lambda: len(seen) == 1)

    [message] = seen
    raw = message.raw_message
    assert message.headers == {
        "tenant": "acme",
        "retry_count": 3,
        "flag": True,
        "x-stream-offset": 0,
    }
    assert (message.message_id, message.correlation_id) == ("m-1", "c-1")
    assert message.content_type == "application/json"
    assert (raw.priority, raw.app_id, raw.type, raw.reply_to) == (
        4,
        "billing",
        "order.created",
        "replies",
    )
    assert (raw.expiration, raw.delivery_mode) == (60.0, aio_pika.DeliveryMode.PERSISTENT)
    assert raw.routing_key == queue


async def test_unreachable_stream_endpoint_fails_start_with_a_masked_error(
    prefix: str, broker_url: str
) -> None:
    settings = HareSettings(
        url=broker_url, stream_url="rabbitmq-stream://guest:s3cret@127.0.0.1:1/"
    )
    broker = HareBroker(broker_url, settings=settings)

    @broker.subscriber(f"{prefix}.events", stream=True)
    async def audit(event: Any) -> None: ...

    try:
        with pytest.raises(HareError) as caught:
            await broker.start()
    finally:
        await broker.stop()

    text = str(caught.value)
    assert "rabbitmq-stream://guest:***@127.0.0.1:1/" in text
    assert "s3cret" not in text
    assert "stream_url" in text
