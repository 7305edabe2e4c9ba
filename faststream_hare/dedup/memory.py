"""The in-memory dedup store: one per broker by default, atomic within its event loop.

Entries live in one insertion-ordered dict per period, so in each dict the oldest claim
comes first and is also the first to expire. That makes the sweep (HareMq's was broken,
bug E4) and the oldest-first eviction cheap: they only ever look at the front of a dict.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable, Sequence
from typing import cast

from faststream_hare.dedup.store import Claim
from faststream_hare.errors import HareConfigError

logger = logging.getLogger("faststream_hare.dedup")

#: Entries kept at most; beyond it the oldest claim is evicted first.
DEFAULT_MAX_ENTRIES = 1_000_000
#: How often expired entries are removed, as HareMq's DedupCache intended.
DEFAULT_SWEEP_INTERVAL_MS = 1_000
#: Entries removed per step of a sweep before the event loop gets a turn.
SWEEP_CHUNK = 10_000


class MemoryDedupStore:
    """A process-local store: claims are atomic because they never await in between.

    Expired entries are removed by a sweep every ``sweep_interval_ms`` that runs while the
    store holds entries that can expire; ``len(store)`` counts what is held in memory.
    """

    def __init__(
        self,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        sweep_interval_ms: int = DEFAULT_SWEEP_INTERVAL_MS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            msg = f"max_entries must be an integer >= 1, got {max_entries!r}."
            raise HareConfigError(msg)
        if (
            isinstance(sweep_interval_ms, bool)
            or not isinstance(sweep_interval_ms, int)
            or sweep_interval_ms < 1
        ):
            msg = f"sweep_interval_ms must be an integer >= 1, got {sweep_interval_ms!r}."
            raise HareConfigError(msg)
        self.max_entries = max_entries
        self.sweep_interval_ms = sweep_interval_ms
        self._clock = clock
        # period in seconds (None: forever) -> {key: claimed_at}, oldest first
        self._buckets: dict[float | None, dict[str, float]] = {}
        self._size = 0
        self._sweeper: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return f"MemoryDedupStore(entries={self._size}, max_entries={self.max_entries})"

    async def claim(self, key: str, period_ms: int | None) -> Claim | None:
        """Claim ``key`` unless a live entry holds it (no await inside: atomic)."""
        return self.claim_now(key, period_ms)

    def claim_now(self, key: str, period_ms: int | None) -> Claim | None:
        """The synchronous claim behind ``claim``."""
        now = self._clock()
        for period, bucket in self._buckets.items():
            claimed_at = bucket.get(key)
            if claimed_at is None:
                continue
            if period is None or claimed_at + period > now:
                return None
            del bucket[key]  # expired but not swept yet
            self._size -= 1
            break
        period_s = None if period_ms is None else period_ms / 1000
        bucket = self._buckets.setdefault(period_s, {})
        if self._size >= self.max_entries:
            self._evict_oldest()
        bucket[key] = now
        self._size += 1
        if period_s is not None:
            self._ensure_sweeper()
        return Claim(key, (period_s, now))

    async def claim_many(self, keys: Sequence[str], period_ms: int | None) -> list[Claim | None]:
        """``claim`` for each key in one step (no await: the batch is atomic too)."""
        return [self.claim_now(key, period_ms) for key in keys]

    async def release(self, claim: Claim) -> None:
        """Drop ``claim`` if it is still the entry for its key."""
        self.release_now(claim)

    async def release_many(self, claims: Sequence[Claim]) -> None:
        """``release`` for each claim."""
        for claim in claims:
            self.release_now(claim)

    def release_now(self, claim: Claim) -> None:
        """The synchronous release behind ``release``."""
        period_s, claimed_at = cast("tuple[float | None, float]", claim.token)
        bucket = self._buckets.get(period_s)
        if bucket is not None and bucket.get(claim.key) == claimed_at:
            del bucket[claim.key]
            self._size -= 1

    def sweep(self, limit: int | None = None) -> int:
        """Remove expired entries (at most ``limit``); returns how many were removed."""
        now = self._clock()
        removed = 0
        for period, bucket in list(self._buckets.items()):
            if period is None:
                continue
            expired = []
            for key, claimed_at in bucket.items():
                if claimed_at + period > now or (limit is not None and removed >= limit):
                    break
                expired.append(key)
                removed += 1
            for key in expired:
                del bucket[key]
            self._size -= len(expired)
            if not bucket:
                del self._buckets[period]
        return removed

    def clear(self) -> None:
        """Forget every entry."""
        self._buckets.clear()
        self._size = 0

    async def aclose(self) -> None:
        """Stop the sweeper; the store stays usable and restarts it when needed."""
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None and not sweeper.done():
            sweeper.cancel()

    def _evict_oldest(self) -> None:
        oldest: dict[str, float] | None = None
        for bucket in self._buckets.values():
            if bucket and (oldest is None or _first(bucket) < _first(oldest)):
                oldest = bucket
        if oldest is not None:
            del oldest[next(iter(oldest))]
            self._size -= 1

    def _has_expiring(self) -> bool:
        return any(period is not None and bucket for period, bucket in self._buckets.items())

    def _ensure_sweeper(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # used outside asyncio (a benchmark, a sync test): sweep by hand
            return
        sweeper = self._sweeper
        if sweeper is not None and not sweeper.done() and sweeper.get_loop() is loop:
            return
        self._sweeper = loop.create_task(
            _sweep_while_needed(weakref.ref(self), self.sweep_interval_ms / 1000),
            name="hare-dedup-sweeper",
        )


def _first(bucket: dict[str, float]) -> float:
    return next(iter(bucket.values()))


async def _sweep_while_needed(ref: weakref.ref[MemoryDedupStore], interval_s: float) -> None:
    """Sweep every ``interval_s`` until nothing can expire; holds the store only weakly."""
    while True:
        await asyncio.sleep(interval_s)
        store = ref()
        if store is None:
            return
        try:
            removed = store.sweep(SWEEP_CHUNK)
            while removed == SWEEP_CHUNK:
                await asyncio.sleep(0)  # a big sweep must not stall publishing
                removed = store.sweep(SWEEP_CHUNK)
        except Exception:  # the sweeper must outlive a bug rather than leak memory silently
            logger.exception("The dedup sweep failed; retrying at the next interval")
        if not store._has_expiring():
            if store._sweeper is asyncio.current_task():
                store._sweeper = None
            return
        del store
