"""``publish_many`` with the Redis store: one round trip for the claims of a batch, one for
the releases, token-checked releases, and nothing published when Redis is down."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection

from faststream_hare import HareBroker, HareDedupError, HareSettings, PublishResult, Unique
from faststream_hare.dedup import RedisDedupStore
from faststream_hare.dedup.redis import CLAIM_CHUNK, CLAIM_EACH, CLAIM_OVER
from tests.support.amqp import drain
from tests.support.fault_proxy import LoseFirstReplies
from tests.support.pools import running
from tests.support.rabbit_admin import REDIS_URL
from tests.support.waiting import eventually

pytestmark = pytest.mark.redis

DOWN_URL = "redis://127.0.0.1:6390/0"  # nothing listens there


@pytest.fixture
async def store() -> AsyncIterator[RedisDedupStore]:
    named = RedisDedupStore(REDIS_URL, name=f"t{uuid.uuid4().hex[:8]}")
    yield named
    await named.clear()
    await named.aclose()


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per write of commands to Redis (a round trip), from now on."""
    writes: list[int] = []
    send: Callable[..., Awaitable[None]] = AbstractConnection.send_packed_command

    async def counting(self: AbstractConnection, command: Any, *args: Any, **kw: Any) -> None:
        writes.append(1)
        await send(self, command, *args, **kw)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    return writes


def make_broker(broker_url: str) -> HareBroker:
    return HareBroker(broker_url, settings=HareSettings(reconnect_interval_ms=200), logger=None)


@pytest.mark.rabbit
async def test_a_batch_is_one_round_trip_to_claim_and_one_to_release(
    prefix: str,
    broker_url: str,
    channel: aio_pika.abc.AbstractChannel,
    store: RedisDedupStore,
    round_trips: list[int],
) -> None:
    broker = make_broker(broker_url)
    unique = Unique(period_ms=60_000, keys=["id"], store=store)
    orders = broker.publisher(exchange=f"{prefix}.ex", routing_key="order.created", unique=unique)
    nowhere = broker.publisher(exchange=f"{prefix}.ex", routing_key="nobody", unique=unique)
    async with running(broker):
        queue = await channel.declare_queue(f"{prefix}.orders")
        await queue.bind(f"{prefix}.ex", "order.created")
        assert await orders.publish_many([{"id": -1}]) == [PublishResult.OK]
        round_trips.clear()  # the store's connection is open, Redis holds the claim script

        batch = [{"id": n} for n in range(300)] + [{"id": 7}]
        results = await orders.publish_many(batch)
        assert results == [PublishResult.OK] * 300 + [PublishResult.DUPLICATE]
        assert len(round_trips) == 1, "every claim of the batch in one write"
        assert sorted(json.loads(m.body)["id"] for m in await drain(queue)) == list(range(-1, 300))

        round_trips.clear()
        lost = await nowhere.publish_many([{"id": n} for n in range(50)])
        assert lost == [PublishResult.UNROUTABLE] * 50
        assert len(round_trips) == 2, "one write for the claims, one for the releases"
    assert await store.count() == 301, "the unroutable batch left no claim behind"


async def test_claim_many_on_redis_claims_a_repeated_key_once_and_releases_by_token(
    store: RedisDedupStore,
) -> None:
    assert await store.claim("held", None) is not None
    claims = await store.claim_many(["a", "held", "b", "a"], 60_000)
    assert [c is not None for c in claims] == [True, False, True, False]
    assert len({c.token for c in claims if c is not None}) == 2
    [old, _, b, _] = claims
    assert old is not None
    assert b is not None
    # the key expired (deleted here) and another publisher claimed it again
    client = Redis.from_url(REDIS_URL)
    try:
        await client.delete(old.key)
    finally:
        await client.aclose()
    fresh = await store.claim("a", 60_000)
    assert fresh is not None
    await store.release_many([old, b])
    assert await store.claim("a", 60_000) is None, "the fresh claim survived"
    assert await store.claim("b", 60_000) is not None, "b was released"
    assert await store.claim_many([], None) == []


@pytest.mark.rabbit
async def test_redis_down_raises_and_publishes_nothing(
    prefix: str, broker_url: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    broker = make_broker(broker_url)
    down = RedisDedupStore("redis://user:s3cret@127.0.0.1:6390/0", timeout_ms=500)
    orders = broker.publisher(
        exchange=f"{prefix}.ex", routing_key="order.created", unique=Unique(store=down)
    )
    async with running(broker):
        queue = await channel.declare_queue(f"{prefix}.orders")
        await queue.bind(f"{prefix}.ex", "order.created")
        with pytest.raises(HareDedupError) as caught:
            await orders.publish_many([{"id": n} for n in range(20)])
        assert await drain(queue) == []
    message = str(caught.value)
    assert "could not claim a key" in message
    assert "nothing was published" in message
    assert "s3cret" not in message
    await down.aclose()


async def test_a_connection_redis_closed_is_replaced_once(store: RedisDedupStore) -> None:
    """Claims run on connections of the store's own; one Redis dropped (a restart, an idle
    timeout) is replaced on the next claim instead of failing it."""
    assert await store.claim("first", 60_000) is not None
    link = store._link()
    own_id = await link.execute("CLIENT", "ID")  # the one idle connection, reused (LIFO)
    admin = Redis.from_url(REDIS_URL)
    try:
        assert await admin.client_kill_filter(_id=own_id) == 1
    finally:
        await admin.aclose()
    assert await store.claim("second", 60_000) is not None
    assert await store.count() == 2


async def test_a_redis_that_never_answers_fails_within_the_timeout() -> None:
    """A server that accepts the connection and stays silent: one deadline per round trip."""
    silent: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store = RedisDedupStore(f"redis://127.0.0.1:{port}/0", timeout_ms=300)
    try:
        with pytest.raises(HareDedupError, match=r"no reply from Redis within 0\.3 s"):
            await asyncio.wait_for(store.claim_many(["a", "b"], 1_000), 5)
        with pytest.raises(HareDedupError, match=r"no reply from Redis within 0\.3 s"):
            await asyncio.wait_for(store.claim("a", 1_000), 5)
    finally:
        await store.aclose()
        for writer in silent:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_big_batch_is_claimed_and_released_in_chunks(
    store: RedisDedupStore, round_trips: list[int]
) -> None:
    await store.claim("warm", 600_000)  # the connection is open: count writes from here
    round_trips.clear()
    keys = [f"k{n}" for n in range(CLAIM_CHUNK * 2 + 7)]
    claims = await store.claim_many(keys, 60_000)
    assert len(round_trips) == 3
    assert None not in claims
    await store.release_many([c for c in claims if c is not None])
    assert len(round_trips) == 6
    assert await store.count() == 1


async def test_claims_whose_replies_were_lost_are_released_before_the_error(
    store: RedisDedupStore,
) -> None:
    """The SETs ran on Redis but no reply came: without the release, retrying this batch
    would be all DUPLICATE until the keys expire (a silent loss)."""
    await store._link().client.script_load(CLAIM_EACH.text)  # the batch's EVALSHA runs
    async with LoseFirstReplies(trigger=b"\r\nEVALSHA\r\n") as proxy:
        stalled = RedisDedupStore(
            f"redis://127.0.0.1:{proxy.port}/0", name=store.name, timeout_ms=500
        )
        try:
            with pytest.raises(HareDedupError, match=r"no reply from Redis within 0\.5 s"):
                await stalled.claim_many(["a", "b", "c"], 60_000)
            assert proxy.triggered, "the claims reached Redis"
            assert proxy.connections == 2, "the release went through a second connection"
        finally:
            await stalled.aclose()
    assert await store.count() == 0
    assert None not in await store.claim_many(["a", "b", "c"], 60_000)


async def test_a_batch_whose_connection_broke_in_flight_is_released_before_the_error(
    store: RedisDedupStore,
) -> None:
    await store._link().client.script_load(CLAIM_EACH.text)  # the batch's EVALSHA runs
    async with LoseFirstReplies(cut=True, trigger=b"\r\nEVALSHA\r\n") as proxy:
        broken = RedisDedupStore(f"redis://127.0.0.1:{proxy.port}/0", name=store.name)
        try:
            with pytest.raises(HareDedupError, match="before the reply"):
                await broken.claim_many(["a", "b", "c"], 60_000)
            assert proxy.triggered, "the claims reached Redis"
        finally:
            await broken.aclose()
    assert await store.count() == 0
    assert None not in await store.claim_many(["a", "b", "c"], 60_000)


@pytest.mark.rabbit
async def test_a_claim_whose_connection_broke_in_flight_is_published_not_a_duplicate(
    prefix: str, broker_url: str, channel: aio_pika.abc.AbstractChannel, store: RedisDedupStore
) -> None:
    """The SET ran but its reply was lost with the connection. Sent again as it was, it
    would find its own key taken and report DUPLICATE: a message lost. The store remembers
    the token as uncertain, and the claim made again on a new connection drops it first."""
    async with LoseFirstReplies(cut=True) as proxy:
        broken = RedisDedupStore(f"redis://127.0.0.1:{proxy.port}/0", name=store.name)
        broker = make_broker(broker_url)
        orders = broker.publisher(
            exchange=f"{prefix}.ex",
            routing_key="order.created",
            unique=Unique(period_ms=60_000, store=broken),
        )
        try:
            async with running(broker):
                queue = await channel.declare_queue(f"{prefix}.orders")
                await queue.bind(f"{prefix}.ex", "order.created")
                assert await orders.publish_message({"id": 1}) is PublishResult.OK
                assert proxy.triggered
                assert proxy.connections == 2, "claimed again on a new connection"
                assert await orders.publish_message({"id": 1}) is PublishResult.DUPLICATE
                assert [json.loads(m.body) for m in await drain(queue)] == [{"id": 1}]
        finally:
            await broken.aclose()
    assert await store.count() == 1


async def test_a_claim_given_up_while_redis_stalls_is_not_a_duplicate_later(
    store: RedisDedupStore,
) -> None:
    """A caller cancelled with its SET in flight: the key holds that attempt's token. The next
    claim (on a new connection: redis-py closes the one of a call cut short) takes it over, so
    the message is claimed rather than reported DUPLICATE."""
    async with LoseFirstReplies() as proxy:
        stalled = RedisDedupStore(
            f"redis://127.0.0.1:{proxy.port}/0", name=store.name, timeout_ms=500
        )
        try:
            given_up = asyncio.create_task(stalled.claim("a", 60_000))
            await eventually(lambda: proxy.triggered)
            given_up.cancel()
            with pytest.raises(asyncio.CancelledError):
                await given_up
            claim = await stalled.claim("a", 60_000)
            assert claim is not None, "reported DUPLICATE: the message would be lost"
            assert proxy.connections == 2
        finally:
            await stalled.aclose()
    assert await store.count() == 1


async def test_a_claim_that_timed_out_is_not_a_duplicate_later(store: RedisDedupStore) -> None:
    async with LoseFirstReplies() as proxy:
        stalled = RedisDedupStore(
            f"redis://127.0.0.1:{proxy.port}/0", name=store.name, timeout_ms=500
        )
        try:
            with pytest.raises(HareDedupError, match=r"no reply from Redis within 0\.5 s"):
                await stalled.claim("a", 60_000)
            assert proxy.triggered, "the SET reached Redis"
            claim = await stalled.claim("a", 60_000)
            assert claim is not None, "reported DUPLICATE: the message would be lost"
            assert proxy.connections == 2
        finally:
            await stalled.aclose()
    assert await store.count() == 1


async def test_taking_over_our_own_claim_survives_losing_that_reply_too(
    store: RedisDedupStore,
) -> None:
    """The key holds a claim of ours whose reply was lost, and the reply of the claim made
    over it is lost as well (its script ran). Sent again on a new connection, that claim still
    sees the key as ours. A drop-then-claim did not: the drop sent again found the key
    already gone, answered "not ours", and the message was reported DUPLICATE (lost)."""
    key = store.prefix + "a"
    assert await store._link().execute("SET", key, "lost-attempt", "PX", 60_000)
    await store._link().client.script_load(CLAIM_OVER.text)  # its EVALSHA runs, then is cut
    async with LoseFirstReplies(cut=True, trigger=b"\r\nEVALSHA\r\n") as proxy:
        broken = RedisDedupStore(f"redis://127.0.0.1:{proxy.port}/0", name=store.name)
        broken._uncertain.remember(key, "lost-attempt")
        try:
            claim = await broken.claim("a", 60_000)
            assert proxy.triggered, "the claim over the lost attempt ran on Redis"
            assert proxy.connections == 2, "and was sent again on a new connection"
        finally:
            await broken.aclose()
    assert claim is not None, "reported DUPLICATE: the message would be lost"
    assert await store._link().execute("GET", key) == claim.token
    assert await store.claim("a", 60_000) is None, "and it is a claim like any other"


async def test_concurrent_claims_over_our_own_lost_claim_let_exactly_one_win(
    store: RedisDedupStore,
) -> None:
    """Claims made over an unanswered claim reuse its token: two callers of this process
    claiming the same key at once must not both win with it (a duplicate publish)."""
    key = store.prefix + "a"
    assert await store._link().execute("SET", key, "lost-attempt", "PX", 60_000)
    store._uncertain.remember(key, "lost-attempt")
    claims = await asyncio.gather(*(store.claim("a", 60_000) for _ in range(5)))
    assert sum(claim is not None for claim in claims) == 1, claims
    assert len(store._key_turns) == 0, "no lock is kept once nobody waits"
