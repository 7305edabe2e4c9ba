"""The dedup store protocol: an atomic claim with a TTL, and the release of that one claim.

A batch (``publish_many``) claims and releases many keys at once. Stores that can do that in
one round trip implement ``BatchDedupStore``; for any other store ``claim_many`` and
``release_many`` below loop over ``claim`` and ``release``, so a store of your own needs only
the three members of ``DedupStore``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import NamedTuple, Protocol, runtime_checkable

logger = logging.getLogger("faststream_hare.dedup")


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


@runtime_checkable
class BatchDedupStore(DedupStore, Protocol):
    """A store that claims and releases a batch at once (one round trip for Redis)."""

    async def claim_many(self, keys: Sequence[str], period_ms: int | None) -> list[Claim | None]:
        """``claim`` for each key, in order: a key repeated in ``keys`` is claimed once."""
        ...

    async def release_many(self, claims: Sequence[Claim]) -> None:
        """``release`` for each claim."""
        ...


async def claim_many(
    store: DedupStore, keys: Sequence[str], period_ms: int | None
) -> list[Claim | None]:
    """The store's own ``claim_many``, or one ``claim`` after the other.

    When a claim fails (the store is unreachable), the claims already made are released
    before the error is raised, so nothing stays claimed for messages never sent.
    """
    if not keys:
        return []
    if isinstance(store, BatchDedupStore):
        return await store.claim_many(keys, period_ms)
    claims: list[Claim | None] = []
    try:
        for key in keys:
            claims.append(await store.claim(key, period_ms))
    except BaseException:
        await release_quietly(store, [c for c in claims if c is not None])
        raise
    return claims


async def release_many(store: DedupStore, claims: Sequence[Claim]) -> None:
    """The store's own ``release_many``, or one ``release`` after the other (all are tried;
    the first error is raised at the end)."""
    if not claims:
        return
    if isinstance(store, BatchDedupStore):
        await store.release_many(claims)
        return
    failure: Exception | None = None
    for claim in claims:
        try:
            await store.release(claim)
        except Exception as exc:
            failure = failure or exc
    if failure is not None:
        raise failure


async def release_quietly(store: DedupStore, claims: Sequence[Claim]) -> None:
    """Release on a path that is already failing: a release error is logged, not raised."""
    try:
        await release_many(store, claims)
    except Exception:
        logger.exception("Could not release %d dedup claims; they expire on their own", len(claims))
