"""Batch claims and releases: the memory store's own, and the loop for any other store."""

from __future__ import annotations

import pytest

from faststream_hare import HareDedupError
from faststream_hare.dedup import Claim, DedupStore, MemoryDedupStore
from faststream_hare.dedup.store import BatchDedupStore, claim_many, release_many


async def test_memory_claim_many_claims_in_order_and_a_repeated_key_once() -> None:
    store = MemoryDedupStore()
    assert isinstance(store, BatchDedupStore)
    assert await store.claim("held", None) is not None
    claims = await claim_many(store, ["a", "held", "b", "a"], 60_000)
    assert [c is not None for c in claims] == [True, False, True, False]
    assert len(store) == 3
    await release_many(store, [c for c in claims if c is not None])
    assert len(store) == 1
    assert await store.claim("a", 60_000) is not None, "released"


async def test_memory_release_many_drops_only_its_own_claims() -> None:
    now = [0.0]
    store = MemoryDedupStore(clock=lambda: now[0])
    [old] = await store.claim_many(["k"], 1_000)
    assert old is not None
    now[0] = 2.0  # expired; another publisher claims the key again
    fresh = await store.claim("k", 1_000)
    assert fresh is not None
    await store.release_many([old])
    assert await store.claim("k", 1_000) is None, "the fresh claim survived the old release"


async def test_claim_many_of_nothing_asks_nothing() -> None:
    store = Flaky(fail_at=0)
    assert await claim_many(store, [], None) == []
    await release_many(store, [])
    assert store.calls == []


class Flaky:
    """A store of one's own (only ``DedupStore``'s members) whose n-th claim fails."""

    def __init__(self, *, fail_at: int | None = None, fail_release: str | None = None) -> None:
        self.inner = MemoryDedupStore()
        self.fail_at = fail_at
        self.fail_release = fail_release
        self.calls: list[str] = []

    async def claim(self, key: str, period_ms: int | None) -> Claim | None:
        self.calls.append(f"claim {key}")
        if self.fail_at is not None and len(self.calls) > self.fail_at:
            raise HareDedupError("store gone")
        return await self.inner.claim(key, period_ms)

    async def release(self, claim: Claim) -> None:
        self.calls.append(f"release {claim.key}")
        if claim.key == self.fail_release:
            raise HareDedupError(f"cannot release {claim.key}")
        await self.inner.release(claim)

    def __len__(self) -> int:
        return len(self.inner)


async def test_a_store_without_claim_many_is_looped_over() -> None:
    store = Flaky()
    assert isinstance(store, DedupStore)
    assert not isinstance(store, BatchDedupStore)
    claims = await claim_many(store, ["a", "b", "a"], None)
    assert [c is not None for c in claims] == [True, True, False]
    assert store.calls == ["claim a", "claim b", "claim a"]


async def test_a_failing_claim_releases_the_claims_made_before_it() -> None:
    store = Flaky(fail_at=2)
    with pytest.raises(HareDedupError, match="store gone"):
        await claim_many(store, ["a", "b", "c", "d"], None)
    assert store.calls == ["claim a", "claim b", "claim c", "release a", "release b"]
    assert len(store) == 0


async def test_release_many_tries_every_claim_then_raises_the_first_error() -> None:
    store = Flaky(fail_release="b")
    claims = [c for c in await claim_many(store, ["a", "b", "c"], None) if c is not None]
    with pytest.raises(HareDedupError, match="cannot release b"):
        await release_many(store, claims)
    assert store.calls[-3:] == ["release a", "release b", "release c"]
    assert len(store) == 1
