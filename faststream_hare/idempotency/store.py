"""The idempotency store protocol: a lease while a handler runs, a done marker after it.

A consumer that must handle each message once asks the store before the handler runs:
``acquire`` either grants a lease (a ``Claim``, as the dedup stores hand out) or says the key
is ``DONE`` (handled within the period) or ``BUSY`` (another delivery holds the lease). The
lease expires on its own, so a process that died while holding it blocks nobody for long.
"""

from __future__ import annotations

from enum import Enum
from typing import Protocol, runtime_checkable

from faststream_hare.dedup.store import Claim


class Seen(Enum):
    """Why a lease was not granted."""

    #: Handled successfully within the period: ack without running the handler.
    DONE = "done"
    #: Another delivery holds the lease right now: try again later.
    BUSY = "busy"


@runtime_checkable
class IdempotencyStore(Protocol):
    """Where idempotent consumers record what they are handling and what they handled.

    ``acquire`` must be atomic: of two concurrent acquires of one key, at most one gets the
    lease. A store that cannot be reached raises (``HareDedupError`` for hare's stores).
    """

    async def acquire(self, key: str, lease_ms: int) -> Claim | Seen:
        """Lease ``key`` for ``lease_ms`` unless it is done or leased by someone else."""
        ...

    async def mark_done(self, lease: Claim, period_ms: int) -> None:
        """The handler succeeded: remember the key as done for ``period_ms``, drop the lease."""
        ...

    async def release(self, claim: Claim) -> None:
        """The handler failed: drop the lease if it is still this one (a retry may run)."""
        ...

    def __len__(self) -> int:
        """Number of entries (leases and done markers) the store holds."""
        ...
