"""Which store a publisher uses: its own, one per Redis URL, or the broker's default."""

from __future__ import annotations

from faststream_hare.dedup.memory import MemoryDedupStore
from faststream_hare.dedup.redis import RedisDedupStore, check_redis_url
from faststream_hare.dedup.store import DedupStore
from faststream_hare.errors import HareConfigError


def check_store(store: object) -> None:
    """``Unique.store`` is ``None``, a Redis URL or a ``DedupStore``; fail early otherwise."""
    if store is None or isinstance(store, DedupStore):
        return
    if isinstance(store, str):
        check_redis_url(store, "Unique.store")
        return
    msg = (
        f"Unique.store must be a Redis URL or a DedupStore (claim, release, len), got "
        f'{type(store).__name__}; write store="redis://localhost:6379/0" or a store object.'
    )
    raise HareConfigError(msg)


class DedupStores:
    """The stores of one broker: the default in-memory store and one store per Redis URL."""

    def __init__(self) -> None:
        self.memory = MemoryDedupStore()
        self._by_url: dict[str, RedisDedupStore] = {}

    def for_url(self, url: str, option: str = "Unique.store") -> RedisDedupStore:
        """The broker's store for ``url`` (publishers naming one URL share one client)."""
        store = self._by_url.get(url)
        if store is None:
            store = self._by_url[url] = RedisDedupStore(check_redis_url(url, option))
        return store

    def default(self, dedup_url: str | None) -> DedupStore:
        """``settings.dedup_url``'s Redis store when set, else the in-memory store."""
        return self.for_url(dedup_url, "HareSettings.dedup_url") if dedup_url else self.memory

    def resolve(self, store: str | DedupStore | None, dedup_url: str | None) -> DedupStore:
        """The store for ``Unique(store=...)``: an object, a Redis URL, or ``None``."""
        if store is None:
            return self.default(dedup_url)
        if isinstance(store, str):
            return self.for_url(store)
        return store

    async def aclose(self) -> None:
        """Release what the stores hold open (connections, the sweeper task)."""
        await self.memory.aclose()
        for store in self._by_url.values():
            await store.aclose()
