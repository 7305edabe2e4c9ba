"""Which idempotency store a subscriber uses: its own, one per Redis URL, or the broker's."""

from __future__ import annotations

from faststream_hare.dedup.redis import check_redis_url
from faststream_hare.errors import HareConfigError
from faststream_hare.idempotency.memory import MemoryIdempotencyStore
from faststream_hare.idempotency.redis import RedisIdempotencyStore
from faststream_hare.idempotency.store import IdempotencyStore


def check_store(store: object) -> None:
    """``Idempotency.store`` is ``None``, a Redis URL or an ``IdempotencyStore``."""
    if store is None or isinstance(store, IdempotencyStore):
        return
    if isinstance(store, str):
        check_redis_url(store, "Idempotency.store")
        return
    msg = (
        f"Idempotency.store must be a Redis URL or an IdempotencyStore (acquire, mark_done, "
        f'release, len), got {type(store).__name__}; write store="redis://localhost:6379/0".'
    )
    raise HareConfigError(msg)


class IdempotencyStores:
    """The stores of one broker: the default in-memory store and one store per Redis URL."""

    def __init__(self) -> None:
        self.memory = MemoryIdempotencyStore()
        self._by_url: dict[str, RedisIdempotencyStore] = {}

    def for_url(self, url: str, option: str = "Idempotency.store") -> RedisIdempotencyStore:
        """The broker's store for ``url`` (subscribers naming one URL share one client)."""
        store = self._by_url.get(url)
        if store is None:
            store = self._by_url[url] = RedisIdempotencyStore(check_redis_url(url, option))
        return store

    def resolve(
        self, store: str | IdempotencyStore | None, dedup_url: str | None
    ) -> IdempotencyStore:
        """The store for ``Idempotency(store=...)``: an object, a Redis URL, or ``None``
        (``settings.dedup_url``'s Redis when set, else the in-memory store)."""
        if isinstance(store, str):
            return self.for_url(store)
        if store is not None:
            return store
        if dedup_url:
            return self.for_url(dedup_url, "HareSettings.dedup_url")
        return self.memory

    async def aclose(self) -> None:
        """Release what the stores hold open (connections, the sweeper task)."""
        await self.memory.aclose()
        for store in self._by_url.values():
            await store.aclose()
