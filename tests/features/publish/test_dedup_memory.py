"""The in-memory dedup store: atomic claims, releases, expiry that frees memory, eviction."""

from __future__ import annotations

import asyncio

import pytest

from faststream_hare import HareConfigError
from faststream_hare.dedup import DedupStore, MemoryDedupStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_it_is_a_dedup_store() -> None:
    assert isinstance(MemoryDedupStore(), DedupStore)


async def test_a_held_key_is_refused_until_its_period_ends() -> None:
    clock = Clock()
    store = MemoryDedupStore(clock=clock)
    assert await store.claim("k", 1_000) is not None
    assert await store.claim("k", 1_000) is None
    clock.now += 0.999
    assert await store.claim("k", 1_000) is None
    clock.now += 0.001  # expired exactly at claimed_at + period (HareMq: expired_at > now)
    assert await store.claim("k", 1_000) is not None
    assert len(store) == 1


async def test_none_means_forever() -> None:
    clock = Clock()
    store = MemoryDedupStore(clock=clock)
    assert await store.claim("k", None) is not None
    clock.now += 10**9
    assert await store.claim("k", None) is None
    assert await store.claim("k", 5) is None


async def test_concurrent_claims_of_one_key_give_exactly_one_winner() -> None:
    store = MemoryDedupStore()
    claims = await asyncio.gather(*(store.claim("same", 60_000) for _ in range(50)))
    assert sum(c is not None for c in claims) == 1
    await store.aclose()


async def test_release_frees_the_key_for_a_fresh_claim() -> None:
    store = MemoryDedupStore()
    claim = await store.claim("k", 60_000)
    assert claim is not None
    await store.release(claim)
    assert len(store) == 0
    assert await store.claim("k", 60_000) is not None
    await store.aclose()


async def test_a_stale_release_does_not_drop_a_newer_claim() -> None:
    clock = Clock()
    store = MemoryDedupStore(clock=clock)
    old = await store.claim("k", 100)
    assert old is not None
    clock.now += 1
    assert await store.claim("k", 100) is not None  # the old claim expired; a new one holds it
    await store.release(old)
    assert await store.claim("k", 100) is None
    assert len(store) == 1


async def test_the_sweep_removes_expired_entries_from_memory() -> None:
    clock = Clock()
    store = MemoryDedupStore(clock=clock)
    for n in range(100):
        await store.claim(f"short{n}", 1_000)
    await store.claim("long", 5_000)
    await store.claim("forever", None)
    clock.now += 1.5
    assert store.sweep() == 100
    assert len(store) == 2
    clock.now += 10
    assert store.sweep() == 1
    assert len(store) == 1
    assert await store.claim("forever", None) is None


async def test_the_periodic_sweeper_frees_memory_then_stops() -> None:
    store = MemoryDedupStore(sweep_interval_ms=20)
    for n in range(1_000):
        await store.claim(f"k{n}", 50)
    assert len(store) == 1_000
    await asyncio.sleep(0.3)
    assert len(store) == 0, "expired entries are gone from memory, not only ignored"
    assert store._buckets == {}
    assert store._sweeper is None, "nothing can expire: no task keeps running"
    await store.claim("again", 50)
    assert store._sweeper is not None
    await store.aclose()
    assert store._sweeper is None


async def test_a_big_sweep_happens_in_chunks() -> None:
    clock = Clock()
    store = MemoryDedupStore(clock=clock)
    for n in range(25_000):
        store.claim_now(f"k{n}", 10)
    clock.now += 1
    assert store.sweep(10_000) == 10_000
    assert store.sweep(10_000) == 10_000
    assert store.sweep(10_000) == 5_000
    assert len(store) == 0
    await store.aclose()


async def test_the_size_is_bounded_and_the_oldest_claim_goes_first() -> None:
    clock = Clock()
    store = MemoryDedupStore(max_entries=3, clock=clock)
    for name, period in [("a", None), ("b", 60_000), ("c", 10_000), ("d", 60_000)]:
        clock.now += 1
        assert await store.claim(name, period) is not None
    assert len(store) == 3
    assert await store.claim("a", None) is not None, "a was the oldest and was evicted"
    assert len(store) == 3, "claiming a evicted b, the oldest left"
    assert await store.claim("c", 10_000) is None
    assert await store.claim("d", 60_000) is None
    assert await store.claim("a", None) is None
    await store.aclose()


def test_claims_work_without_an_event_loop() -> None:
    store = MemoryDedupStore()
    assert store.claim_now("k", 10) is not None
    assert store.claim_now("k", 10) is None
    store.clear()
    assert len(store) == 0


@pytest.mark.parametrize(
    "kwargs", [{"max_entries": 0}, {"max_entries": True}, {"sweep_interval_ms": 0}]
)
def test_bad_limits_are_config_errors(kwargs: dict[str, int]) -> None:
    with pytest.raises(HareConfigError):
        MemoryDedupStore(**kwargs)


def test_uncertain_claims_are_bounded_and_taken_once() -> None:
    from faststream_hare.dedup.uncertain import UncertainClaims

    claims = UncertainClaims(limit=2)
    claims.remember("a", "1")
    claims.remember("b", "2")
    claims.remember("c", "3")  # "a" is forgotten: the oldest goes first
    assert "a" not in claims
    assert len(claims) == 2
    assert claims.take("b") == ("2",)
    assert claims.take("b") == ()
    claims.forget("c")
    assert len(claims) == 0


def test_every_unanswered_attempt_at_a_key_is_remembered() -> None:
    """The first of two unanswered claims may be the one that ran: both tokens are kept."""
    from faststream_hare.dedup.uncertain import MAX_TOKENS_PER_KEY, UncertainClaims

    claims = UncertainClaims()
    claims.remember("a", "1")
    claims.remember("a", "2", "1")
    assert claims.take("a") == ("1", "2")
    for n in range(MAX_TOKENS_PER_KEY + 2):
        claims.remember("a", str(n))
    assert claims.take("a") == tuple(str(n) for n in range(2, MAX_TOKENS_PER_KEY + 2))
