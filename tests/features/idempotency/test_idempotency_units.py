"""The idempotency key and the in-memory store, without a broker."""

from __future__ import annotations

from faststream_hare import IdempotencyStore, MemoryIdempotencyStore, RedisIdempotencyStore
from faststream_hare.dedup.store import Claim
from faststream_hare.idempotency import Seen
from faststream_hare.idempotency.keys import idempotency_key, key_description


def test_the_key_is_the_message_id_namespaced_by_queue() -> None:
    one = idempotency_key("orders", message_id="m-1", body=b"a", keys=None)
    assert one == idempotency_key("orders", message_id="m-1", body=b"other body", keys=None)
    assert one != idempotency_key("orders", message_id="m-2", body=b"a", keys=None)
    assert one != idempotency_key("invoices", message_id="m-1", body=b"a", keys=None)


def test_without_a_message_id_the_body_is_the_key() -> None:
    a = idempotency_key("q", message_id=None, body=b"x", keys=None)
    assert a == idempotency_key("q", message_id="", body=b"x", keys=None)
    assert a != idempotency_key("q", message_id=None, body=b"y", keys=None)


def test_keys_take_the_canonical_json_of_those_fields() -> None:
    key = idempotency_key("q", message_id="1", body=b'{"id": 7, "v": 1}', keys=("id",))
    assert key == idempotency_key("q", message_id="2", body=b'{"v":2,"id":7}', keys=("id",))
    assert key != idempotency_key("q", message_id="1", body=b'{"id": 8}', keys=("id",))
    raw = idempotency_key("q", message_id="1", body=b"not json", keys=("id",))
    assert raw == idempotency_key("q", message_id="2", body=b"not json", keys=("id",))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_memory_store_leases_marks_done_and_releases() -> None:
    clock = Clock()
    store = MemoryIdempotencyStore(clock=clock)
    assert isinstance(store, IdempotencyStore)
    lease = await store.acquire("k", 1_000)
    assert isinstance(lease, Claim)
    assert await store.acquire("k", 1_000) is Seen.BUSY
    await store.release(lease)
    again = await store.acquire("k", 1_000)
    assert isinstance(again, Claim)
    await store.mark_done(again, 5_000)
    assert await store.acquire("k", 1_000) is Seen.DONE
    assert len(store) == 1
    clock.now += 5.0
    assert isinstance(await store.acquire("k", 1_000), Claim)  # the period ran out


async def test_an_expired_lease_can_be_taken_and_the_old_holder_cannot_release_it() -> None:
    clock = Clock()
    store = MemoryIdempotencyStore(clock=clock)
    stale = await store.acquire("k", 1_000)
    assert isinstance(stale, Claim)
    clock.now += 1.5
    fresh = await store.acquire("k", 1_000)
    assert isinstance(fresh, Claim)
    await store.release(stale)
    assert await store.acquire("k", 1_000) is Seen.BUSY


def test_the_redis_store_is_an_idempotency_store() -> None:
    store = RedisIdempotencyStore("redis://127.0.0.1:6379/0", name="x")
    assert isinstance(store, IdempotencyStore)
    assert store.prefix == "hare:idem:x:"
    assert "x" in repr(store)


def test_key_description_names_what_matched() -> None:
    body = b'{"order_id": 42, "tenant": "acme", "n": 1}'
    assert key_description(message_id="m", body=body, keys=["order_id", "tenant"]) == (
        'order_id=42, tenant="acme"'
    )
    assert key_description(message_id="m", body=b"plain", keys=["order_id"]) == (
        "body (not a JSON object)"
    )
    assert key_description(message_id="m-1", body=body, keys=None) == "message id"
    assert key_description(message_id=None, body=body, keys=None) == "body (it has no message id)"
