"""Which store a publisher (``Unique.store``) or an idempotent subscriber
(``Idempotency.store``) uses: its own, one per Redis URL, or the broker's default.

Both options take the same three forms and resolve the same way; ``StoreRegistry`` does it
once, and each kind of store names its own classes (``DedupStores`` here,
``IdempotencyStores`` in ``idempotency/registry.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from faststream_hare._internal.masking import mask_url
from faststream_hare._internal.patience import keep_trying
from faststream_hare.dedup.memory import MemoryDedupStore
from faststream_hare.dedup.redis import RedisDedupStore, check_redis_url
from faststream_hare.dedup.store import DedupStore
from faststream_hare.errors import HareConfigError, HareConnectionError, HareDedupError

logger = logging.getLogger("faststream_hare.connection")


class _Owned(Protocol):
    """A store the broker made, so it closes it."""

    async def aclose(self) -> None: ...


StoreT = TypeVar("StoreT")
MemoryT = TypeVar("MemoryT", bound=_Owned)
RedisT = TypeVar("RedisT", bound=_Owned)


def check_store_option(store: object, protocol: type, option: str, shape: str) -> None:
    """``option`` is ``None``, a Redis URL or a ``protocol`` object; fail early otherwise."""
    if store is None or isinstance(store, protocol):
        return
    if isinstance(store, str):
        check_redis_url(store, option)
        return
    msg = (
        f"{option} must be a Redis URL or {shape}, got {type(store).__name__}; "
        f'write store="redis://localhost:6379/0" or a store object.'
    )
    raise HareConfigError(msg)


def check_store(store: object) -> None:
    """``Unique.store`` is ``None``, a Redis URL or a ``DedupStore``."""
    check_store_option(store, DedupStore, "Unique.store", "a DedupStore (claim, release, len)")


class StoreRegistry(Generic[StoreT, MemoryT, RedisT]):
    """The stores of one broker: the default in-memory store and one store per Redis URL."""

    def __init__(self, memory: MemoryT, redis_store: Callable[[str], RedisT], option: str) -> None:
        self.memory = memory
        self._redis_store = redis_store
        self._option = option
        self._by_url: dict[str, RedisT] = {}

    def for_url(self, url: str, option: str | None = None) -> RedisT:
        """The broker's store for ``url`` (everything naming one URL shares one client)."""
        store = self._by_url.get(url)
        if store is None:
            checked = check_redis_url(url, option or self._option)
            store = self._by_url[url] = self._redis_store(checked)
        return store

    def default(self, dedup_url: str | None) -> MemoryT | RedisT:
        """``settings.dedup_url``'s Redis store when set, else the in-memory store."""
        return self.for_url(dedup_url, "HareSettings.dedup_url") if dedup_url else self.memory

    def resolve(
        self, store: str | StoreT | None, dedup_url: str | None
    ) -> StoreT | MemoryT | RedisT:
        """The store for ``store=``: an object, a Redis URL, or ``None`` (the default)."""
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


class DedupStores(StoreRegistry[DedupStore, MemoryDedupStore, RedisDedupStore]):
    """The dedup stores of one broker."""

    def __init__(self) -> None:
        super().__init__(MemoryDedupStore(), RedisDedupStore, "Unique.store")


async def reach(store: object, *, timeout_s: float, max_pause_s: float) -> None:
    """A Redis dedup store is tried like RabbitMQ at start: patiently, then one sentence."""
    ping = getattr(store, "ping", None)
    if ping is None:
        return  # in memory, or a custom store: nothing to reach
    url = mask_url(str(getattr(store, "url", "")))
    warned = False

    def on_failure(exc: BaseException, pause_s: float) -> None:
        nonlocal warned
        if not warned:
            warned = True
            logger.warning("%s Trying again for up to %.0f s", exc, timeout_s)

    try:
        await keep_trying(
            ping,
            timeout_s=timeout_s,
            max_pause_s=max_pause_s,
            retryable=(HareDedupError,),
            on_failure=on_failure,
        )
    except HareDedupError as exc:
        msg = (
            f"Cannot reach the Redis dedup store at {url} after {timeout_s:g} s ({exc}); "
            "start Redis there, or set HARE_MQ_DEDUP_URL (or Unique(store=...)) to where it runs."
        )
        raise HareConnectionError(msg) from None
