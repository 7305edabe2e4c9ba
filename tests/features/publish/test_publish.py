"""``publish_message``: encoding, confirms, deduplication, middlewares — in memory and on
RabbitMQ; then returns and outages, which only the real broker has."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aio_pika
import pytest
from faststream import BaseMiddleware
from faststream.rabbit import RabbitMessage, TestRabbitBroker

from faststream_hare import HareBroker, HareDedupError, HareSettings, PublishResult, Unique, signals
from faststream_hare.dedup import Claim, MemoryDedupStore
from faststream_hare.telemetry.signals import publisher_message_encoding_failed
from tests.support.amqp import drain
from tests.support.fault_proxy import FaultProxy
from tests.support.pools import running
from tests.support.rabbit_admin import AMQP_URL, RabbitAdmin
from tests.support.transport import Transport
from tests.support.waiting import eventually


def collect(signal: Any) -> tuple[list[dict[str, Any]], Any]:
    seen: list[dict[str, Any]] = []

    def receiver(sender: object, *, measurements: dict[str, Any], metadata: dict[str, Any]) -> None:
        seen.append({"sender": sender, **measurements, **metadata})

    signal.connect(receiver)
    return seen, receiver


async def test_a_dict_arrives_as_json_with_its_properties_and_a_message_id(
    transport: Transport,
) -> None:
    exchange = transport.queue("ex")
    broker = transport.broker()
    orders = broker.publisher(
        exchange=exchange, routing_key="order.created", headers={"source": "shop"}, priority=3
    )
    received: list[tuple[dict[str, Any], RabbitMessage]] = []

    @broker.subscriber(
        transport.queue("orders"), exchange=exchange, routing_key="order.created", hare=True
    )
    async def handle(order: dict[str, Any], message: RabbitMessage) -> None:
        received.append((order, message))

    started = time.time()
    async with transport.running(broker):
        results = [await orders.publish_message({"id": n, "name": "grüß"}) for n in range(3)]
        await eventually(lambda: len(received) == 3)
    assert results == [PublishResult.OK] * 3
    assert [order for order, _ in received] == [{"id": n, "name": "grüß"} for n in range(3)]
    messages = [message.raw_message for _, message in received]
    assert [m.body for m in messages] == [f'{{"id":{n},"name":"grüß"}}'.encode() for n in range(3)]
    assert {m.content_type for m in messages} == {"application/json"}
    assert [(m.headers, m.priority) for m in messages] == [({"source": "shop"}, 3)] * 3
    ids = [m.message_id for m in messages]
    assert len(set(ids)) == 3
    assert all(i is not None and len(i) == 32 and int(i, 16) >= 0 for i in ids)
    if transport.rabbit:  # persistent, stamped with the publish time (AMQP: in seconds)
        assert {m.delivery_mode for m in messages} == {aio_pika.DeliveryMode.PERSISTENT}
        assert all(m.timestamp and abs(m.timestamp.timestamp() - started) < 60 for m in messages)


async def test_bytes_arrive_byte_identical_and_str_as_utf8(transport: Transport) -> None:
    queue = transport.queue("jobs")
    broker = transport.broker()
    jobs = broker.publisher(routing_key=queue)
    received: list[RabbitMessage] = []
    raw = bytes(range(256)) * 4

    @broker.subscriber(queue)
    async def handle(message: RabbitMessage) -> None:
        received.append(message)

    async with transport.running(broker):
        assert await jobs.publish_message(raw) is PublishResult.OK
        assert await jobs.publish_message("grüß") is PublishResult.OK
        await eventually(lambda: len(received) == 2)
    raw_message, text_message = received
    assert raw_message.body == raw
    assert raw_message.content_type in (None, "")
    assert (text_message.body, text_message.content_type) == ("grüß".encode(), "text/plain")


async def test_dedup_publishes_once(transport: Transport) -> None:
    exchange = transport.queue("ex")
    broker = transport.broker()
    orders = broker.publisher(
        exchange=exchange, routing_key="order.created", unique=Unique(keys=["id"])
    )
    seen: list[dict[str, Any]] = []

    @broker.subscriber(
        transport.queue("orders"), exchange=exchange, routing_key="order.created", hare=True
    )
    async def handle(order: dict[str, Any]) -> None:
        seen.append(order)

    duplicates, receiver = collect(signals.publisher_message_duplicate)
    try:
        async with transport.running(broker):
            assert await orders.publish_message({"id": 1, "v": 1}) is PublishResult.OK
            assert await orders.publish_message({"id": 1, "v": 2}) is PublishResult.DUPLICATE
            assert await orders.publish_message({"id": 2, "v": 1}) is PublishResult.OK
            results = await asyncio.gather(*(orders.publish_message({"id": 3}) for _ in range(50)))
            await eventually(lambda: len(seen) == 3)
            await transport.quiet()
    finally:
        signals.publisher_message_duplicate.disconnect(receiver)
    assert results.count(PublishResult.OK) == 1
    assert results.count(PublishResult.DUPLICATE) == 49
    assert seen == [{"id": 1, "v": 1}, {"id": 2, "v": 1}, {"id": 3}]
    assert len(orders.dedup_store or ()) == 3
    first = duplicates[0]
    assert first["sender"] is broker
    assert set(first) == {
        "sender",
        "system_time",
        "publisher",
        "exchange",
        "routing_key",
        "dedup_key",
    }
    assert (first["exchange"], first["routing_key"]) == (exchange, "order.created")


async def test_encoding_failure_is_reported_and_claims_nothing(transport: Transport) -> None:
    broker = transport.broker()
    jobs = broker.publisher(routing_key=transport.queue("jobs"), unique=Unique())
    failures, receiver = collect(publisher_message_encoding_failed)
    try:
        async with transport.running(broker):
            assert await jobs.publish_message([1, 2]) is PublishResult.ENCODING_FAILED
            assert await jobs.publish_message({"x": object()}) is PublishResult.ENCODING_FAILED
    finally:
        publisher_message_encoding_failed.disconnect(receiver)
    assert len(broker.dedup_store) == 0
    assert "cannot publish a list" in failures[0]["reason"]
    assert "not JSON serializable" in failures[1]["reason"]


async def test_destinations_and_stores_are_isolated(transport: Transport) -> None:
    queue, paid_queue = transport.queue("jobs"), transport.queue("paid")
    broker = transport.broker()
    own = MemoryDedupStore()
    shared_a = broker.publisher(routing_key=queue, unique=Unique())
    shared_b = broker.publisher(routing_key=queue, unique=Unique())
    paid = broker.publisher(routing_key=paid_queue, unique=Unique())
    isolated = broker.publisher(routing_key=queue, unique=Unique(store=own))
    got: list[dict[str, int]] = []

    @broker.subscriber(queue)
    async def handle(body: dict[str, int]) -> None:
        got.append(body)

    @broker.subscriber(paid_queue)
    async def handle_paid(body: dict[str, int]) -> None:
        got.append(body)

    async with transport.running(broker):
        results = [
            await shared_a.publish_message({"n": 1, "m": 2}),
            await shared_b.publish_message({"m": 2, "n": 1}),  # same destination and store
            await paid.publish_message({"n": 1, "m": 2}),  # another routing key
            await isolated.publish_message({"n": 1, "m": 2}),  # a store of its own
        ]
        await eventually(lambda: len(got) == 3)
        await transport.quiet()
    assert results == [
        PublishResult.OK,
        PublishResult.DUPLICATE,  # the same JSON, keys in another order
        PublishResult.OK,
        PublishResult.OK,
    ]
    assert len(got) == 3
    assert isolated.dedup_store is own
    assert (len(own), len(broker.dedup_store)) == (1, 2)


async def test_the_faststream_api_still_works_on_a_hare_publisher(transport: Transport) -> None:
    source, sink_queue = transport.queue("in"), transport.queue("out")
    broker = transport.broker()
    out = broker.publisher(routing_key=sink_queue)
    results: list[str] = []

    @out
    @broker.subscriber(source)
    async def relay(body: str) -> str:
        return body.upper()

    @broker.subscriber(sink_queue)
    async def sink(body: str) -> None:
        results.append(body)

    async with transport.running(broker):
        await broker.publish("hi", queue=source)
        await eventually(lambda: results == ["HI"])
        await out.publish("direct")
        await eventually(lambda: len(results) == 2)
    assert results == ["HI", "direct"]


class RecordingStore:
    """A user-supplied store: anything with claim/release/len is a DedupStore."""

    def __init__(self, *, fail_release: bool = False) -> None:
        self.inner = MemoryDedupStore()
        self.fail_release = fail_release
        self.calls: list[str] = []

    async def claim(self, key: str, period_ms: int | None) -> Claim | None:
        self.calls.append("claim")
        return await self.inner.claim(key, period_ms)

    async def release(self, claim: Claim) -> None:
        self.calls.append("release")
        if self.fail_release:
            raise HareDedupError("store gone")
        await self.inner.release(claim)

    def __len__(self) -> int:
        return len(self.inner)


async def test_a_custom_store_is_used(transport: Transport) -> None:
    queue = transport.queue("jobs")
    broker = transport.broker()
    store = RecordingStore()
    jobs = broker.publisher(routing_key=queue, unique=Unique(period_ms=5_000, store=store))

    @broker.subscriber(queue)
    async def handle(body: dict[str, int]) -> None: ...

    async with transport.running(broker):
        assert await jobs.publish_message({"n": 1}) is PublishResult.OK
        assert await jobs.publish_message({"n": 1}) is PublishResult.DUPLICATE
    assert jobs.dedup_store is store
    assert (store.calls, len(store)) == (["claim", "claim"], 1)
    await store.inner.aclose()


async def test_publish_middlewares_see_publish_message(transport: Transport) -> None:
    seen: list[tuple[bytes, str | None]] = []

    class Spy(BaseMiddleware):
        async def publish_scope(self, call_next: Any, cmd: Any) -> Any:
            seen.append((cmd.body, cmd.message_options.get("message_id")))
            cmd.add_headers({"trace": str(len(seen))})
            return await call_next(cmd)

    queue = transport.queue("jobs")
    broker = transport.broker(middlewares=[Spy])
    jobs = broker.publisher(routing_key=queue, headers={"source": "shop"})
    headers: list[dict[str, Any]] = []

    @broker.subscriber(queue)
    async def handle(body: dict[str, int], message: RabbitMessage) -> None:
        headers.append(message.headers)

    async with transport.running(broker):
        assert await jobs.publish_message({"n": 1}) is PublishResult.OK
        assert await jobs.publish_message({"n": 2}) is PublishResult.OK
        await eventually(lambda: len(headers) == 2)
    assert [body for body, _ in seen] == [b'{"n":1}', b'{"n":2}']
    assert all(message_id for _, message_id in seen)
    assert headers == [{"source": "shop", "trace": "1"}, {"source": "shop", "trace": "2"}]
    assert jobs.headers == {"source": "shop"}, "a middleware's headers stay on its message"


# -- without a broker --------------------------------------------------------------------------


async def test_not_started_is_not_connected_and_leaves_no_claim() -> None:
    broker = HareBroker()
    jobs = broker.publisher(exchange="ex", routing_key="jobs", unique=Unique())
    assert await jobs.publish_message({"n": 1}) is PublishResult.NOT_CONNECTED
    assert await jobs.publish_message({"n": 1}) is PublishResult.NOT_CONNECTED
    assert len(broker.dedup_store) == 0


async def test_a_failed_publish_whose_release_fails_raises_dedup_error() -> None:
    """Not started (no broker needed): NOT_CONNECTED, and the claim cannot be released —
    the caller must learn that the key stays claimed, not get a silent duplicate later."""
    broker = HareBroker()
    store = RecordingStore(fail_release=True)
    jobs = broker.publisher(routing_key="jobs", unique=Unique(store=store))
    with pytest.raises(HareDedupError, match="store gone"):
        await jobs.publish_message({"n": 1})
    assert store.calls == ["claim", "release"]


# -- in memory only: the subscriber runs inside the test's publish --------------------------------


async def test_a_failing_handler_does_not_leave_a_claim_behind() -> None:
    """In memory the handler's error reaches the test, as in FastStream; the claim is
    released, so publishing again is not reported as a duplicate."""
    broker = HareBroker()
    jobs = broker.publisher(routing_key="jobs", unique=Unique())
    calls = 0

    @broker.subscriber("jobs")
    async def handle(body: dict[str, int]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("first attempt fails")

    async with TestRabbitBroker(broker):
        with pytest.raises(RuntimeError, match="first attempt fails"):
            await jobs.publish_message({"n": 1})
        assert await jobs.publish_message({"n": 1}) is PublishResult.OK
        assert await jobs.publish_message({"n": 1}) is PublishResult.DUPLICATE
    assert calls == 2


async def test_a_cancelled_publish_releases_its_claim() -> None:
    broker = HareBroker()
    jobs = broker.publisher(routing_key="jobs", unique=Unique())
    started = asyncio.Event()

    @broker.subscriber("jobs")
    async def slow(body: dict[str, int]) -> None:
        if body["n"] == 1 and not started.is_set():
            started.set()
            await asyncio.sleep(10)

    async with TestRabbitBroker(broker):
        task = asyncio.create_task(jobs.publish_message({"n": 1}))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(broker.dedup_store) == 0
        assert await jobs.publish_message({"n": 1}) is PublishResult.OK


# -- on RabbitMQ only: confirms, returns, declarations, outages ----------------------------------


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


@pytest.mark.rabbit
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


@pytest.mark.rabbit
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


@pytest.mark.rabbit
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


@pytest.mark.rabbit
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


@pytest.mark.rabbit
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


@pytest.mark.rabbit
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


@pytest.mark.rabbit
async def test_after_the_period_it_is_published_again_and_memory_is_freed(
    prefix: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    broker = make_broker(prefix)
    orders = broker.publisher(
        exchange=f"{prefix}.ex", routing_key="order.created", unique=Unique(period_ms=300)
    )
    async with running(broker):
        queue = await bound_queue(channel, f"{prefix}.orders", f"{prefix}.ex", "order.created")
        assert await orders.publish_message({"id": 1}) is PublishResult.OK
        assert await orders.publish_message({"id": 1}) is PublishResult.DUPLICATE
        await asyncio.sleep(0.35)
        assert await orders.publish_message({"id": 1}) is PublishResult.OK
        store = orders.dedup_store
        assert store is broker.dedup_store
        assert len(store) == 1
        await asyncio.sleep(1.5)  # the broker's store sweeps every second
        assert len(store) == 0, "expired entries are removed from memory, not only ignored"
        assert len(await drain(queue)) == 2
