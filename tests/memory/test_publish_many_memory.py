"""``publish_many`` under TestRabbitBroker and without a broker: every message accounted for."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from faststream.rabbit import TestRabbitBroker

from faststream_hare import (
    ClaimsNotReleasedError,
    HareBroker,
    HareConfigError,
    HareDedupError,
    PublishResult,
    Unique,
    signals,
)
from faststream_hare.dedup import Claim, MemoryDedupStore

OK, DUPLICATE, ENCODING_FAILED = (
    PublishResult.OK,
    PublishResult.DUPLICATE,
    PublishResult.ENCODING_FAILED,
)


def collect(signal: Any) -> tuple[list[dict[str, Any]], Any]:
    seen: list[dict[str, Any]] = []

    def receiver(sender: object, *, measurements: dict[str, Any], metadata: dict[str, Any]) -> None:
        seen.append(metadata)

    signal.connect(receiver)
    return seen, receiver


async def test_results_in_input_order_and_the_subscriber_gets_exactly_the_ok_ones() -> None:
    broker = HareBroker()
    orders = broker.publisher(
        exchange="orders_ex", routing_key="order.created", unique=Unique(keys=["id"])
    )
    got: list[int] = []

    @broker.subscriber("orders", exchange="orders_ex", routing_key="order.created", hare=True)
    async def handle(order: dict[str, Any]) -> None:
        got.append(order["id"])

    duplicates, on_duplicate = collect(signals.publisher_message_duplicate)
    failures, on_failure = collect(signals.publisher_message_encoding_failed)
    try:
        async with TestRabbitBroker(broker):
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
    finally:
        signals.publisher_message_duplicate.disconnect(on_duplicate)
        signals.publisher_message_encoding_failed.disconnect(on_failure)
    assert results == [OK, DUPLICATE, OK, DUPLICATE, ENCODING_FAILED, ENCODING_FAILED, OK]
    assert sorted(got) == [0, 1, 2, 4]
    assert len(duplicates) == 2
    assert {d["routing_key"] for d in duplicates} == {"order.created"}
    assert len(failures) == 2
    assert len(broker.dedup_store) == 4, "a claim per published id, none for the failures"


async def test_an_empty_batch_is_an_empty_list() -> None:
    broker = HareBroker()
    jobs = broker.publisher(routing_key="jobs", unique=Unique())
    async with TestRabbitBroker(broker):
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


async def test_a_custom_store_without_claim_many_is_used_claim_by_claim() -> None:
    broker = HareBroker()
    store = LoopingStore()
    jobs = broker.publisher(routing_key="jobs", unique=Unique(period_ms=5_000, store=store))

    @broker.subscriber("jobs")
    async def handle(body: dict[str, int]) -> None: ...

    async with TestRabbitBroker(broker):
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


async def test_a_store_that_fails_mid_claims_raises_and_nothing_is_published() -> None:
    broker = HareBroker()
    store = BrokenStore(claims_fail=True)
    jobs = broker.publisher(routing_key="jobs", unique=Unique(store=store))
    got: list[dict[str, int]] = []

    @broker.subscriber("jobs")
    async def handle(body: dict[str, int]) -> None:
        got.append(body)

    async with TestRabbitBroker(broker):
        with pytest.raises(HareDedupError, match="store gone"):
            await jobs.publish_many([{"n": n} for n in range(3)])
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
