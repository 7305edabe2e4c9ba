"""The dedup store protocol: an atomic claim with a TTL, and its release."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class DedupStore(Protocol):
    """Where a hare publisher records the dedup keys it has published."""

    async def claim(self, key: str, period_ms: int | None) -> bool:
        """Atomically record ``key`` for ``period_ms`` (``None``: forever); False if present."""
        ...

    async def release(self, key: str) -> None:
        """Forget ``key`` (the publish it guarded failed)."""
        ...

    def __len__(self) -> int:
        """Number of live entries."""
        ...
