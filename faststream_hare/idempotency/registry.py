"""Which idempotency store a subscriber uses: its own, one per Redis URL, or the broker's."""

from __future__ import annotations

from faststream_hare.dedup.registry import StoreRegistry, check_store_option
from faststream_hare.idempotency.memory import MemoryIdempotencyStore
from faststream_hare.idempotency.redis import RedisIdempotencyStore
from faststream_hare.idempotency.store import IdempotencyStore


def check_store(store: object) -> None:
    """``Idempotency.store`` is ``None``, a Redis URL or an ``IdempotencyStore``."""
    check_store_option(
        store,
        IdempotencyStore,
        "Idempotency.store",
        "an IdempotencyStore (acquire, mark_done, release, len)",
    )


class IdempotencyStores(
    StoreRegistry[IdempotencyStore, MemoryIdempotencyStore, RedisIdempotencyStore]
):
    """The idempotency stores of one broker."""

    def __init__(self) -> None:
        super().__init__(MemoryIdempotencyStore(), RedisIdempotencyStore, "Idempotency.store")
