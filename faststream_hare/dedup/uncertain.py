"""Claims whose outcome is unknown: sent to Redis, but the answer never came.

A ``SET NX`` that timed out may still run when a stalled Redis resumes, and a release that
failed leaves its claim behind. Either way the key would stay taken by a claim nobody owns, and
publishing the message again — which ``HareDedupError`` invites — would be a ``DUPLICATE``
until the key expires (never, without a period). The store remembers such claims (bounded, in
this process) and, when the same key is found taken later, removes its own stale claim
(token-checked) before claiming again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator

#: How many keys with uncertain claims a store remembers (the oldest are forgotten first).
MAX_REMEMBERED = 10_000
#: Tokens remembered per key: each unanswered attempt at one key may be the one in Redis.
MAX_TOKENS_PER_KEY = 4


class UncertainClaims:
    """Key → tokens of this store's claims that may exist in Redis without an owner."""

    def __init__(self, limit: int = MAX_REMEMBERED) -> None:
        self.limit = limit
        self._tokens: OrderedDict[str, tuple[str, ...]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, key: object) -> bool:
        return key in self._tokens

    def remember(self, key: str, *tokens: str) -> None:
        """Claims of ``key`` with ``tokens`` may or may not be in Redis (added to those
        already remembered: an earlier unanswered attempt may be the one that ran)."""
        known = self._tokens.get(key, ())
        self._tokens[key] = (*known, *(t for t in tokens if t not in known))[-MAX_TOKENS_PER_KEY:]
        self._tokens.move_to_end(key)
        while len(self._tokens) > self.limit:
            self._tokens.popitem(last=False)

    def tokens(self, key: str) -> tuple[str, ...]:
        """The tokens remembered for ``key``, newest last (still remembered); empty if none."""
        return self._tokens.get(key, ())

    def take(self, key: str) -> tuple[str, ...]:
        """The tokens remembered for ``key``, newest last (forgotten now); empty if none."""
        return self._tokens.pop(key, ())

    def forget(self, key: str) -> None:
        """``key`` was claimed or released for sure."""
        self._tokens.pop(key, None)


class KeyTurns:
    """One caller at a time per key (a lock per key, kept only while someone holds or waits
    for it): claims made over an uncertain claim share its token, so they must take turns."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
