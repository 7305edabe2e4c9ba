"""The in-memory idempotency store: the dedup memory store with leases and done markers.

A lease and a done marker are two entries of ``MemoryDedupStore`` (``lease:<key>`` with the
lease as its period, ``done:<key>`` with the idempotency period), so they are swept, counted
and evicted as dedup entries are. Every method runs without an await: atomic in its loop.
"""

from __future__ import annotations

from faststream_hare.dedup.memory import MemoryDedupStore
from faststream_hare.dedup.store import Claim
from faststream_hare.idempotency.store import Seen

LEASE = "lease:"
DONE = "done:"


class MemoryIdempotencyStore(MemoryDedupStore):
    """One per broker by default; shared by the idempotent subscribers of that broker only."""

    def __repr__(self) -> str:
        return f"MemoryIdempotencyStore(entries={len(self)}, max_entries={self.max_entries})"

    async def acquire(self, key: str, lease_ms: int) -> Claim | Seen:
        """``DONE`` if a live done marker exists, ``BUSY`` if a live lease does, else a lease."""
        return self.acquire_now(key, lease_ms)

    def acquire_now(self, key: str, lease_ms: int) -> Claim | Seen:
        """The synchronous ``acquire``."""
        if self.holds(DONE + key):
            return Seen.DONE
        lease = self.claim_now(LEASE + key, lease_ms)
        return Seen.BUSY if lease is None else lease

    async def mark_done(self, lease: Claim, period_ms: int) -> None:
        """Record the done marker, then drop the lease."""
        done = DONE + lease.key.removeprefix(LEASE)
        if not self.holds(done):
            self.claim_now(done, period_ms)
        self.release_now(lease)

    def holds(self, key: str) -> bool:
        """Whether a live (unexpired) entry holds ``key``."""
        now = self._clock()
        for period, bucket in self._buckets.items():
            claimed_at = bucket.get(key)
            if claimed_at is not None:
                return period is None or claimed_at + period > now
        return False
