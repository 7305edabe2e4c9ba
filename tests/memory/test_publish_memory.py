"""``publish_message`` and deduplication under TestRabbitBroker (no RabbitMQ needed)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from faststream import BaseMiddleware
from faststream.rabbit import RabbitMessage, TestRabbitBroker

from faststream_hare import HareBroker, HareDedupError, PublishResult, Unique, signals
from faststream_hare.dedup import Claim, MemoryDedupStore
from faststream_hare.telemetry.signals import publisher_message_encoding_failed


def collect(signal: Any) -> tuple[list[dict[str, Any]], Any]:
    seen: list[dict[str, Any]] = []

    def receiver(sender: object, *, measurements: dict[str, Any], metadata: dict[str, Any]) -> None:
        seen.append({"sender": sender, **measurements, **metadata})

    signal.connect(receiver)
    return seen, receiver


async def test_a_dict_reaches_the_subscriber_as_json_with_a_message_id() -> None:
    broker = HareBroker()
    orders = broker.publisher(exchange="orders_ex", routing_key="order.created")
    received: list[tuple[dict[str, Any], str | None, str]] = []

    @broker.subscriber("orders", exchange="orders_ex", routing_key="order.created", hare=True)
    async def handle(order: dict[str, Any], message: RabbitMessage) -> None:
        received.append((order, message.content_type, message.message_id))

    async with TestRabbitBroker(broker):
        assert await orders.publish_message({"id": 1, "name": "é"}) is PublishResult.OK
    [(order, content_type, message_id)] = received
    assert order == {"id": 1, "name": "é"}
    assert content_type == "application/json"
    assert len(message_id) == 32
    int(message_id, 16)


async def test_bytes_and_str_arrive_as_sent() -> None:
    broker = HareBroker()
    jobs = broker.publisher(routing_key="jobs")
    bodies: list[bytes] = []

    @broker.subscriber("jobs")
    async def handle(message: RabbitMessage) -> None:
        bodies.append(message.body)

    async with TestRabbitBroker(broker):
        assert await jobs.publish_message(b"\x00\xffraw") is PublishResult.OK
        assert await jobs.publish_message("grüß") is PublishResult.OK
    assert bodies == [b"\x00\xffraw", "grüß".encode()]


async def test_dedup_in_memory_publishes_once() -> None:
    broker = HareBroker()
    orders = broker.publisher(
        exchange="orders_ex", routing_key="order.created", unique=Unique(keys=["id"])
    )
    seen: list[dict[str, Any]] = []

    @broker.subscriber("orders", exchange="orders_ex", routing_key="order.created", hare=True)
    async def handle(order: dict[str, Any]) -> None:
        seen.append(order)

    duplicates, receiver = collect(signals.publisher_message_duplicate)
    try:
        async with TestRabbitBroker(broker):
            assert await orders.publish_message({"id": 1, "v": 1}) is PublishResult.OK
            assert await orders.publish_message({"id": 1, "v": 2}) is PublishResult.DUPLICATE
            assert await orders.publish_message({"id": 2, "v": 1}) is PublishResult.OK
            results = await asyncio.gather(*(orders.publish_message({"id": 3}) for _ in range(50)))
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
    assert (first["exchange"], first["routing_key"]) == ("orders_ex", "order.created")


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


async def test_encoding_failure_is_reported_and_claims_nothing() -> None:
    broker = HareBroker()
    jobs = broker.publisher(routing_key="jobs", unique=Unique())
    failures, receiver = collect(publisher_message_encoding_failed)
    try:
        async with TestRabbitBroker(broker):
            assert await jobs.publish_message([1, 2]) is PublishResult.ENCODING_FAILED
            assert await jobs.publish_message({"x": object()}) is PublishResult.ENCODING_FAILED
    finally:
        publisher_message_encoding_failed.disconnect(receiver)
    assert len(broker.dedup_store) == 0
    assert "cannot publish a list" in failures[0]["reason"]
    assert "not JSON serializable" in failures[1]["reason"]


async def test_publishers_with_separate_stores_do_not_see_each_other() -> None:
    broker = HareBroker()
    own = MemoryDedupStore()
    shared_a = broker.publisher(routing_key="jobs", unique=Unique())
    shared_b = broker.publisher(routing_key="jobs", unique=Unique())
    isolated = broker.publisher(routing_key="jobs", unique=Unique(store=own))

    @broker.subscriber("jobs")
    async def handle(body: dict[str, int]) -> None: ...

    async with TestRabbitBroker(broker):
        assert await shared_a.publish_message({"n": 1}) is PublishResult.OK
        assert await shared_b.publish_message({"n": 1}) is PublishResult.DUPLICATE
        assert await isolated.publish_message({"n": 1}) is PublishResult.OK
    assert isolated.dedup_store is own
    assert (len(own), len(broker.dedup_store)) == (1, 1)


async def test_the_faststream_api_still_works_on_a_hare_publisher() -> None:
    broker = HareBroker()
    out = broker.publisher(routing_key="out")
    results: list[str] = []

    @out
    @broker.subscriber("in")
    async def relay(body: str) -> str:
        return body.upper()

    @broker.subscriber("out")
    async def sink(body: str) -> None:
        results.append(body)

    async with TestRabbitBroker(broker) as br:
        await br.publish("hi", queue="in")
        await out.publish("direct")
    assert results == ["HI", "direct"]


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


async def test_a_custom_store_is_used() -> None:
    broker = HareBroker()
    store = RecordingStore()
    jobs = broker.publisher(routing_key="jobs", unique=Unique(period_ms=5_000, store=store))

    @broker.subscriber("jobs")
    async def handle(body: dict[str, int]) -> None: ...

    async with TestRabbitBroker(broker):
        assert await jobs.publish_message({"n": 1}) is PublishResult.OK
        assert await jobs.publish_message({"n": 1}) is PublishResult.DUPLICATE
    assert jobs.dedup_store is store
    assert (store.calls, len(store)) == (["claim", "claim"], 1)
    await store.inner.aclose()


async def test_a_failed_publish_whose_release_fails_raises_dedup_error() -> None:
    """Not started (no broker needed): NOT_CONNECTED, and the claim cannot be released —
    the caller must learn that the key stays claimed, not get a silent duplicate later."""
    broker = HareBroker()
    store = RecordingStore(fail_release=True)
    jobs = broker.publisher(routing_key="jobs", unique=Unique(store=store))
    with pytest.raises(HareDedupError, match="store gone"):
        await jobs.publish_message({"n": 1})
    assert store.calls == ["claim", "release"]


async def test_not_started_is_not_connected_and_leaves_no_claim() -> None:
    broker = HareBroker()
    jobs = broker.publisher(exchange="ex", routing_key="jobs", unique=Unique())
    assert await jobs.publish_message({"n": 1}) is PublishResult.NOT_CONNECTED
    assert await jobs.publish_message({"n": 1}) is PublishResult.NOT_CONNECTED
    assert len(broker.dedup_store) == 0


async def test_publish_middlewares_see_publish_message() -> None:
    seen: list[tuple[bytes, str | None]] = []

    class Spy(BaseMiddleware):
        async def publish_scope(self, call_next: Any, cmd: Any) -> Any:
            seen.append((cmd.body, cmd.message_options.get("message_id")))
            cmd.add_headers({"trace": str(len(seen))})
            return await call_next(cmd)

    broker = HareBroker(middlewares=[Spy])
    jobs = broker.publisher(routing_key="jobs", headers={"source": "shop"})
    headers: list[dict[str, Any]] = []

    @broker.subscriber("jobs")
    async def handle(body: dict[str, int], message: RabbitMessage) -> None:
        headers.append(message.headers)

    async with TestRabbitBroker(broker):
        assert await jobs.publish_message({"n": 1}) is PublishResult.OK
        assert await jobs.publish_message({"n": 2}) is PublishResult.OK
    assert [body for body, _ in seen] == [b'{"n":1}', b'{"n":2}']
    assert all(message_id for _, message_id in seen)
    assert headers == [{"source": "shop", "trace": "1"}, {"source": "shop", "trace": "2"}]
    assert jobs.headers == {"source": "shop"}, "a middleware's headers stay on its message"
