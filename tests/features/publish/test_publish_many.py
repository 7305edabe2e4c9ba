"""``publish_many``: every message of a batch accounted for, result by result — in memory, on
RabbitMQ, and without a broker.

On RabbitMQ one batch mixes every outcome: the queue has room for ten messages and nacks the
rest (``x-overflow: reject-publish``: NOT_CONNECTED), a publish middleware sends some messages
to a routing key nothing is bound to (UNROUTABLE), some repeat an id (DUPLICATE) and one is not
encodable (ENCODING_FAILED). A second test cuts the connection in the middle of a batch.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
from faststream import BaseMiddleware
from faststream.rabbit import TestRabbitBroker

from faststream_hare import (
    ClaimsNotReleasedError,
    HareBroker,
    HareConfigError,
    HareDedupError,
    HareSettings,
    PublishResult,
    Unique,
    signals,
)
from faststream_hare.dedup import Claim, DedupStore, MemoryDedupStore, RedisDedupStore
from tests.support.amqp import drain
from tests.support.fault_proxy import FaultProxy
from tests.support.pools import running
from tests.support.rabbit_admin import REDIS_URL
from tests.support.transport import Transport
from tests.support.waiting import eventually

OK, DUPLICATE, NOT_CONNECTED, UNROUTABLE, ENCODING_FAILED = (
    PublishResult.OK,
    PublishResult.DUPLICATE,
    PublishResult.NOT_CONNECTED,
    PublishResult.UNROUTABLE,
    PublishResult.ENCODING_FAILED,
)
ROOM = 10


def collect(signal: Any) -> tuple[list[dict[str, Any]], Any]:
    seen: list[dict[str, Any]] = []

    def receiver(sender: object, *, measurements: dict[str, Any], metadata: dict[str, Any]) -> None:
        seen.append(metadata)

    signal.connect(receiver)
    return seen, receiver


async def test_results_in_input_order_and_the_subscriber_gets_exactly_the_ok_ones(
    transport: Transport,
) -> None:
    exchange = transport.queue("ex")
    broker = transport.broker()
    orders = broker.publisher(
        exchange=exchange, routing_key="order.created", unique=Unique(keys=["id"])
    )
    got: list[int] = []

    @broker.subscriber(
        transport.queue("orders"), exchange=exchange, routing_key="order.created", hare=True
    )
    async def handle(order: dict[str, Any]) -> None:
        got.append(order["id"])

    duplicates, on_duplicate = collect(signals.publisher_message_duplicate)
    failures, on_failure = collect(signals.publisher_message_encoding_failed)
    try:
        async with transport.running(broker):
            assert await orders.publish_message({"id": 0}) is OK
            batch: list[Any] = [
                {"id": 1},
                {"id": 0},  # published before the batch
                {"id": 2},
                {"id": 1, "again": True},  # earlier in the same batch
                object(),  # not a mapping, bytes or str
                {"id": 3, "bad": float("nan")},  # not JSON
                {"id": 4},
            ]
            results = await orders.publish_many(batch, max_in_flight=3)
            await eventually(lambda: len(got) == 4)
            await transport.quiet()
    finally:
        signals.publisher_message_duplicate.disconnect(on_duplicate)
        signals.publisher_message_encoding_failed.disconnect(on_failure)
    assert results == [OK, DUPLICATE, OK, DUPLICATE, ENCODING_FAILED, ENCODING_FAILED, OK]
    assert sorted(got) == [0, 1, 2, 4]
    assert len(duplicates) == 2
    assert {d["routing_key"] for d in duplicates} == {"order.created"}
    assert len(failures) == 2
    assert len(broker.dedup_store) == 4, "a claim per published id, none for the failures"


async def test_an_empty_batch_is_an_empty_list(transport: Transport) -> None:
    broker = transport.broker()
    jobs = broker.publisher(routing_key=transport.queue("jobs"), unique=Unique())
    async with transport.running(broker):
        assert await jobs.publish_many([]) == []
        assert await jobs.publish_many(iter(())) == []


async def test_not_started_is_not_connected_for_every_message_and_claims_nothing() -> None:
    broker = HareBroker()
    jobs = broker.publisher(exchange="ex", routing_key="jobs", unique=Unique())
    results = await asyncio.wait_for(jobs.publish_many([{"n": n} for n in range(10)]), 5)
    assert results == [PublishResult.NOT_CONNECTED] * 10
    assert len(broker.dedup_store) == 0


async def test_no_more_than_max_in_flight_publishes_at_once() -> None:
    broker = HareBroker()
    jobs = broker.publisher(routing_key="jobs", hare=True)
    active = peak = 0
    handled: list[int] = []

    @broker.subscriber("jobs")
    async def handle(body: dict[str, int]) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        for _ in range(3):  # in memory the handler runs inside the publish: hold it open
            await asyncio.sleep(0)
        handled.append(body["n"])
        active -= 1

    async with TestRabbitBroker(broker):
        results = await jobs.publish_many([{"n": n} for n in range(40)], max_in_flight=5)
    assert results == [OK] * 40
    assert sorted(handled) == list(range(40))
    assert peak == 5


@pytest.mark.parametrize("value", [0, -1, True, 2.5, "8", None])
async def test_a_bad_max_in_flight_is_one_sentence(value: object) -> None:
    broker = HareBroker()
    jobs = broker.publisher(routing_key="jobs", hare=True)
    with pytest.raises(HareConfigError, match=r"^max_in_flight must be an integer >= 1, got"):
        await jobs.publish_many([{"n": 1}], max_in_flight=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("messages", [{"n": 1}, b"raw", "text", 42])
async def test_one_message_instead_of_a_list_is_refused(messages: object) -> None:
    broker = HareBroker()
    jobs = broker.publisher(routing_key="jobs", hare=True)
    with pytest.raises(HareConfigError, match="publish_many takes an iterable of messages"):
        await jobs.publish_many(messages)  # type: ignore[arg-type]


async def test_a_handler_error_propagates_and_releases_what_was_not_confirmed() -> None:
    """As with publish_message in memory: the exception reaches the caller; the first message
    was delivered (its claim stays), the failing one and those after it claim nothing."""
    broker = HareBroker()
    jobs = broker.publisher(routing_key="jobs", unique=Unique())

    @broker.subscriber("jobs")
    async def handle(body: dict[str, int]) -> None:
        if body["n"] == 1:
            raise ValueError("boom")

    async with TestRabbitBroker(broker):
        with pytest.raises(ValueError, match="boom"):
            await jobs.publish_many([{"n": 0}, {"n": 1}, {"n": 2}], max_in_flight=1)
        assert len(broker.dedup_store) == 1
        assert await jobs.publish_message({"n": 0}) is DUPLICATE
        assert await jobs.publish_message({"n": 2}) is OK


async def test_cancelling_a_batch_releases_the_claims_of_unconfirmed_messages() -> None:
    broker = HareBroker()
    jobs = broker.publisher(routing_key="jobs", unique=Unique())
    release = asyncio.Event()
    all_in = asyncio.Event()
    entered: list[int] = []

    @broker.subscriber("jobs")
    async def handle(body: dict[str, int]) -> None:
        entered.append(body["n"])
        if len(entered) == 6:
            all_in.set()
        if body["n"] >= 2:
            await release.wait()  # never set: these publishes hang until cancelled

    async with TestRabbitBroker(broker):
        task = asyncio.ensure_future(jobs.publish_many([{"n": n} for n in range(6)]))
        await asyncio.wait_for(all_in.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(broker.dedup_store) == 2, "only n=0 and n=1 were confirmed"
        assert [await jobs.publish_message({"n": n}) for n in (0, 1)] == [DUPLICATE] * 2


class LoopingStore:
    """A store of your own with only claim/release/len: publish_many loops over it."""

    def __init__(self) -> None:
        self.inner = MemoryDedupStore()
        self.calls: list[str] = []

    async def claim(self, key: str, period_ms: int | None) -> Claim | None:
        self.calls.append("claim")
        return await self.inner.claim(key, period_ms)

    async def release(self, claim: Claim) -> None:
        self.calls.append("release")
        await self.inner.release(claim)

    def __len__(self) -> int:
        return len(self.inner)


async def test_a_custom_store_without_claim_many_is_used_claim_by_claim(
    transport: Transport,
) -> None:
    queue = transport.queue("jobs")
    broker = transport.broker()
    store = LoopingStore()
    jobs = broker.publisher(routing_key=queue, unique=Unique(period_ms=5_000, store=store))

    @broker.subscriber(queue)
    async def handle(body: dict[str, int]) -> None: ...

    async with transport.running(broker):
        assert await jobs.publish_many([{"n": 1}, {"n": 1}, {"n": 2}]) == [OK, DUPLICATE, OK]
    assert (store.calls, len(store)) == (["claim"] * 3, 2)
    await store.inner.aclose()


async def test_a_custom_store_gets_every_failed_claim_released() -> None:
    broker = HareBroker()  # never started: every publish is NOT_CONNECTED
    store = LoopingStore()
    jobs = broker.publisher(routing_key="jobs", unique=Unique(period_ms=5_000, store=store))
    results = await jobs.publish_many([{"n": 1}, {"n": 1}, {"n": 2}])
    assert results == [PublishResult.NOT_CONNECTED, DUPLICATE, PublishResult.NOT_CONNECTED]
    assert (store.calls, len(store)) == (["claim"] * 3 + ["release"] * 2, 0)
    await store.inner.aclose()


class BrokenStore(LoopingStore):
    """With ``claims_fail`` every claim after the first fails; with ``releases_fail``, every
    release."""

    def __init__(self, *, claims_fail: bool = False, releases_fail: bool = False) -> None:
        super().__init__()
        self.claims_fail = claims_fail
        self.releases_fail = releases_fail

    async def claim(self, key: str, period_ms: int | None) -> Claim | None:
        if self.claims_fail and self.calls:
            raise HareDedupError("store gone")
        return await super().claim(key, period_ms)

    async def release(self, claim: Claim) -> None:
        if self.releases_fail:
            raise HareDedupError("store gone")
        await super().release(claim)


async def test_a_store_that_fails_mid_claims_raises_and_nothing_is_published(
    transport: Transport,
) -> None:
    queue = transport.queue("jobs")
    broker = transport.broker()
    store = BrokenStore(claims_fail=True)
    jobs = broker.publisher(routing_key=queue, unique=Unique(store=store))
    got: list[dict[str, int]] = []

    @broker.subscriber(queue)
    async def handle(body: dict[str, int]) -> None:
        got.append(body)

    async with transport.running(broker):
        with pytest.raises(HareDedupError, match="store gone"):
            await jobs.publish_many([{"n": n} for n in range(3)])
        await transport.quiet()
    assert got == []
    assert (store.calls, len(store)) == (["claim", "release"], 0), "the first claim undone"
    await store.inner.aclose()


async def test_claims_that_cannot_be_released_raise_with_every_result() -> None:
    """Not started: every publish is NOT_CONNECTED and the store refuses the releases — the
    caller learns which messages stay claimed instead of meeting a DUPLICATE later."""
    broker = HareBroker()
    store = BrokenStore(releases_fail=True)
    jobs = broker.publisher(routing_key="jobs", unique=Unique(store=store))
    with pytest.raises(ClaimsNotReleasedError, match="2 message") as caught:
        await jobs.publish_many([{"n": 1}, {"n": 1}, {"n": 2}])
    assert isinstance(caught.value, HareDedupError)
    results = caught.value.results
    assert results == [PublishResult.NOT_CONNECTED, DUPLICATE, PublishResult.NOT_CONNECTED]
    assert len(store) == 2
    await store.inner.aclose()


# -- on RabbitMQ only (and Redis): a queue that refuses, a cut connection ----------------------


class Reroute(BaseMiddleware):
    """A message saying ``"lost": true`` goes to a routing key nothing is bound to."""

    async def publish_scope(self, call_next: Any, cmd: Any) -> Any:
        if isinstance(cmd.body, bytes) and b'"lost":true' in cmd.body:
            cmd.destination = "nowhere"
        return await call_next(cmd)


def make_broker(url: str, **settings: Any) -> HareBroker:
    return HareBroker(
        url,
        settings=HareSettings(reconnect_interval_ms=200, **settings),
        middlewares=(Reroute,),
        logger=None,
    )


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[DedupStore]:
    if request.param == "memory":
        memory = MemoryDedupStore()
        yield memory
        await memory.aclose()
        return
    redis = RedisDedupStore(REDIS_URL, name=f"t{uuid.uuid4().hex[:8]}")
    yield redis
    await redis.clear()
    await redis.aclose()


async def claimed(store: DedupStore) -> int:
    return await store.count() if isinstance(store, RedisDedupStore) else len(store)


def ids(messages: list[aio_pika.abc.AbstractIncomingMessage]) -> list[int]:
    return [json.loads(m.body)["id"] for m in messages]


@pytest.mark.rabbit
async def test_a_mixed_batch_matches_the_queue_message_by_message(
    prefix: str, broker_url: str, channel: aio_pika.abc.AbstractChannel, store: DedupStore
) -> None:
    broker = make_broker(broker_url)
    orders = broker.publisher(
        exchange=f"{prefix}.ex",
        routing_key="order.created",
        unique=Unique(period_ms=60_000, keys=["id"], store=store),
    )
    async with running(broker):
        queue = await channel.declare_queue(
            f"{prefix}.orders",
            arguments={"x-max-length": ROOM, "x-overflow": "reject-publish"},
        )
        await queue.bind(f"{prefix}.ex", "order.created")
        assert await orders.publish_message({"id": 100}) is OK
        assert ids(await drain(queue)) == [100]

        batch: list[Any] = [{"id": n} for n in range(12)]  # 12 routed, room for 10
        batch[3:3] = [{"id": 50, "lost": True}]
        batch[6:6] = [{"id": 1, "again": True}, {"id": 100}, object()]
        batch += [{"id": 51, "lost": True}, {"id": 11, "again": True}]
        results = await orders.publish_many(batch, max_in_flight=4)

        by_index = dict(enumerate(results))
        assert [i for i, r in by_index.items() if r is DUPLICATE] == [6, 7, 17]
        assert [i for i, r in by_index.items() if r is UNROUTABLE] == [3, 16]
        assert [i for i, r in by_index.items() if r is ENCODING_FAILED] == [8]
        confirmed = [batch[i]["id"] for i, r in by_index.items() if r is OK]
        refused = [batch[i]["id"] for i, r in by_index.items() if r is NOT_CONNECTED]
        assert (len(confirmed), len(refused)) == (ROOM, 12 - ROOM)
        stored = await drain(queue)
        assert sorted(ids(stored)) == sorted(confirmed), "OK means in the queue, and only OK"
        assert len({m.message_id for m in stored}) == ROOM
        assert await claimed(store) == ROOM + 1, "the claims of the failures were released"

        # publishing the failures again is a fresh attempt, never a DUPLICATE
        retry = [{"id": n} for n in [*refused, 50, 51]] + [{"id": confirmed[0]}]
        assert await orders.publish_many(retry) == [OK] * (len(retry) - 1) + [DUPLICATE]
        assert sorted(ids(await drain(queue))) == sorted([*refused, 50, 51])


@pytest.mark.rabbit
async def test_a_connection_cut_mid_batch_loses_nothing(
    prefix: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    """Messages in flight at the cut are NOT_CONNECTED (some may be stored anyway: their
    confirm was lost); their claims are released, so publishing them again is OK."""
    cuts: list[bytes] = []
    async with FaultProxy() as proxy:

        class CutAt100(BaseMiddleware):
            async def publish_scope(self, call_next: Any, cmd: Any) -> Any:
                if cmd.body == b'{"id":100}' and not cuts:  # once: not on the retry
                    cuts.append(cmd.body)
                    proxy.cut()
                return await call_next(cmd)

        broker = HareBroker(
            f"{proxy.url()}?name={prefix}",
            settings=HareSettings(reconnect_interval_ms=200, confirm_timeout_ms=5_000),
            middlewares=(CutAt100,),
            logger=None,
        )
        orders = broker.publisher(
            exchange=f"{prefix}.ex", routing_key="order.created", unique=Unique(keys=["id"])
        )
        async with running(broker):
            queue = await channel.declare_queue(f"{prefix}.orders")
            await queue.bind(f"{prefix}.ex", "order.created")
            batch = [{"id": n} for n in range(300)]
            results = await asyncio.wait_for(orders.publish_many(batch, max_in_flight=50), 30)

            assert set(results) <= {OK, NOT_CONNECTED}
            confirmed = {n for n, r in enumerate(results) if r is OK}
            failed = [n for n, r in enumerate(results) if r is NOT_CONNECTED]
            # message 100 is taken only after 51 earlier publishes completed
            assert len([n for n in confirmed if n < 100]) >= 51
            assert 100 in failed
            first = Counter(ids(await drain(queue)))
            assert set(first.values()) == {1}, "each message published once"
            assert confirmed <= set(first) <= confirmed | set(failed)

            pending = list(failed)
            deadline = time.monotonic() + 20
            while pending and time.monotonic() < deadline:  # until the connection is back
                retried = await orders.publish_many([{"id": n} for n in pending])
                assert set(retried) <= {OK, NOT_CONNECTED}, "claims released: no DUPLICATE"
                pending = [n for n, r in zip(pending, retried, strict=True) if r is not OK]
                if pending:
                    await asyncio.sleep(0.2)
            assert pending == []
            second = Counter(ids(await drain(queue)))
    assert set(second) == set(failed)
    assert set(first) | set(second) == set(range(300)), "nothing lost"
