"""The dedup store protocol: an atomic claim with a TTL, and the release of that one claim."""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable


class Claim(NamedTuple):
    """Proof of a successful claim; ``token`` lets ``release`` drop only this claim.

    Without the token, releasing a claim that already expired could delete the fresh claim
    another publisher made in between.
    """

    key: str
    token: object


@runtime_checkable
class DedupStore(Protocol):
    """Where hare publishers record the dedup keys of what they publish.

    ``claim`` must be atomic: of two concurrent claims of one key, exactly one succeeds.
    A store that cannot be reached raises ``HareDedupError``.
    """

    async def claim(self, key: str, period_ms: int | None) -> Claim | None:
        """Record ``key`` for ``period_ms`` (``None``: forever); ``None`` if it is held."""
        ...

    async def release(self, claim: Claim) -> None:
        """Forget ``claim`` (the publish it guarded failed), unless it was replaced."""
        ...

    def __len__(self) -> int:
        """Number of entries the store holds."""
        ...
