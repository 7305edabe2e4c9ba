"""Claims whose outcome is unknown: sent to Redis, but the answer never came.

A ``SET NX`` that timed out may still run when a stalled Redis resumes, and a release that
failed leaves its claim behind. Either way the key would stay taken by a claim nobody owns, and
publishing the message again — which ``HareDedupError`` invites — would be a ``DUPLICATE``
until the key expires (never, without a period). The store remembers such claims (bounded, in
this process) and, when the same key is found taken later, removes its own stale claim
(token-checked) before claiming again.
"""

from __future__ import annotations

from collections import OrderedDict

#: How many uncertain claims a store remembers (the oldest are forgotten first).
MAX_REMEMBERED = 10_000


class UncertainClaims:
    """Key → token of this store's claims that may exist in Redis without an owner."""

    def __init__(self, limit: int = MAX_REMEMBERED) -> None:
        self.limit = limit
        self._tokens: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, key: object) -> bool:
        return key in self._tokens

    def remember(self, key: str, token: str) -> None:
        """A claim of ``key`` with ``token`` may or may not be in Redis."""
        self._tokens[key] = token
        self._tokens.move_to_end(key)
        while len(self._tokens) > self.limit:
            self._tokens.popitem(last=False)

    def take(self, key: str) -> str | None:
        """The token remembered for ``key`` (forgotten now), or ``None``."""
        return self._tokens.pop(key, None)

    def forget(self, key: str) -> None:
        """``key`` was claimed or released for sure."""
        self._tokens.pop(key, None)
