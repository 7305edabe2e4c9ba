"""Idempotent consumers: the store protocol, the stores and the key function."""

from faststream_hare.idempotency.memory import MemoryIdempotencyStore
from faststream_hare.idempotency.redis import RedisIdempotencyStore
from faststream_hare.idempotency.store import IdempotencyStore, Seen

__all__ = ("IdempotencyStore", "MemoryIdempotencyStore", "RedisIdempotencyStore", "Seen")
