"""Deduplication for hare publishers: the store protocol, the stores and the key function."""

from faststream_hare.dedup.memory import MemoryDedupStore
from faststream_hare.dedup.redis import RedisDedupStore
from faststream_hare.dedup.store import BatchDedupStore, Claim, DedupStore

__all__ = ("BatchDedupStore", "Claim", "DedupStore", "MemoryDedupStore", "RedisDedupStore")
