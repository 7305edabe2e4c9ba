"""The Redis dedup store: shared between brokers and processes, and never silent when down."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest

from faststream_hare import HareBroker, HareDedupError, HareSettings, PublishResult, Unique
from faststream_hare.dedup import DedupStore, RedisDedupStore
from tests.support.pools import running
from tests.support.rabbit_admin import AMQP_URL, REDIS_URL

DOWN_URL = "redis://127.0.0.1:6390/0"  # nothing listens there


@pytest.fixture
async def store() -> AsyncIterator[RedisDedupStore]:
    named = RedisDedupStore(REDIS_URL, name=f"t{uuid.uuid4().hex[:8]}")
    yield named
    await named.aclose()


@pytest.mark.redis
async def test_redis_store_claims_atomically_and_releases_only_its_claim(
    store: RedisDedupStore,
) -> None:
    assert isinstance(store, DedupStore)
    claims = await asyncio.gather(*(store.claim("k", 60_000) for _ in range(50)))
    winners = [c for c in claims if c is not None]
    assert len(winners) == 1
    assert len(store) == 1 == await store.count()
    await store.release(winners[0])
    assert len(store) == 0
    stale = await store.claim("short", 50)
    assert stale is not None
    await asyncio.sleep(0.1)
    assert await store.claim("short", 60_000) is not None
    await store.release(stale)  # expired claim: must not drop the newer one
    assert await store.claim("short", 60_000) is None
    assert await store.claim("forever", None) is not None
    assert await store.claim("forever", None) is None
    await store.release(winners[0])  # releasing twice is harmless
    assert len(store) == 2
    assert await store.clear() == 2
    assert len(store) == 0


@pytest.mark.redis
async def test_named_stores_do_not_see_each_others_keys(store: RedisDedupStore) -> None:
    other = RedisDedupStore(REDIS_URL, name=f"{store.name}x")
    try:
        assert await store.claim("k", 60_000) is not None
        assert await other.claim("k", 60_000) is not None
        assert await store.claim("k", 60_000) is None
        assert (len(store), len(other)) == (1, 1)
    finally:
        await other.aclose()


@pytest.mark.redis
async def test_an_unreachable_redis_raises_quickly_and_masks_the_password() -> None:
    down = RedisDedupStore("redis://user:s3cret@127.0.0.1:6390/0", timeout_ms=500)
    with pytest.raises(HareDedupError) as info:
        await asyncio.wait_for(down.claim("k", 1_000), 5)
    assert "nothing was published" in str(info.value)
    assert "s3cret" not in str(info.value)
    with pytest.raises(HareDedupError):
        len(down)
    await down.aclose()


@pytest.mark.rabbit
@pytest.mark.redis
async def test_two_brokers_with_their_own_connections_share_one_redis(prefix: str) -> None:
    exchange = f"{prefix}.ex"
    brokers = [
        HareBroker(f"{AMQP_URL.rstrip('/')}/?name={prefix}-{n}", logger=None) for n in (1, 2)
    ]
    publishers = [
        b.publisher(
            exchange=exchange,
            routing_key="order.created",
            unique=Unique(period_ms=30_000, keys=["id"], store=REDIS_URL),
        )
        for b in brokers
    ]
    connection = await aio_pika.connect(AMQP_URL)
    try:
        async with running(brokers[0]), running(brokers[1]):
            channel = await connection.channel()
            queue = await channel.declare_queue(f"{prefix}.orders", durable=True)
            await queue.bind(exchange, "order.created")
            run = uuid.uuid4().hex  # fresh keys in the shared Redis
            first = await publishers[0].publish_message({"id": run, "from": 1})
            second = await publishers[1].publish_message({"id": run, "from": 2})
            concurrent = await asyncio.gather(
                *(
                    p.publish_message({"id": f"{run}-c", "n": n})
                    for n in range(10)
                    for p in publishers
                )
            )
            await asyncio.sleep(0.1)
            declared = await channel.declare_queue(f"{prefix}.orders", passive=True)
            count = declared.declaration_result.message_count
    finally:
        await connection.close()
        for publisher in publishers:
            await publisher.dedup_store.aclose()  # type: ignore[union-attr]
    assert (first, second) == (PublishResult.OK, PublishResult.DUPLICATE)
    assert concurrent.count(PublishResult.OK) == 1
    assert count == 2
    assert publishers[0].dedup_store is not publishers[1].dedup_store, "separate clients"


@pytest.mark.rabbit
@pytest.mark.redis
async def test_settings_dedup_url_makes_redis_the_default_store(prefix: str) -> None:
    broker = HareBroker(
        f"{AMQP_URL.rstrip('/')}/?name={prefix}",
        settings=HareSettings(dedup_url=REDIS_URL),
        logger=None,
    )
    jobs = broker.publisher(
        exchange=None, routing_key=f"{prefix}.jobs", unique=Unique(period_ms=30_000)
    )
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(f"{prefix}.jobs", durable=True)
        async with running(broker):
            assert isinstance(broker.dedup_store, RedisDedupStore)
            assert jobs.dedup_store is broker.dedup_store
            body = {"run": uuid.uuid4().hex}
            assert await jobs.publish_message(body) is PublishResult.OK
            assert await jobs.publish_message(body) is PublishResult.DUPLICATE
            assert await queue.get(no_ack=True, fail=False) is not None
            assert await queue.get(no_ack=True, fail=False) is None
    finally:
        await connection.close()
        await broker.dedup_stores.aclose()


@pytest.mark.rabbit
@pytest.mark.redis
async def test_redis_down_raises_and_publishes_nothing(prefix: str) -> None:
    broker = HareBroker(f"{AMQP_URL.rstrip('/')}/?name={prefix}", logger=None)
    jobs = broker.publisher(
        exchange=None, routing_key=f"{prefix}.jobs", unique=Unique(period_ms=1_000, store=DOWN_URL)
    )
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(f"{prefix}.jobs", durable=True)
        async with running(broker):
            for _ in range(3):
                with pytest.raises(HareDedupError, match="nothing was published"):
                    await asyncio.wait_for(jobs.publish_message({"n": 1}), 10)
            assert await queue.get(no_ack=True, fail=False) is None
    finally:
        await connection.close()
        await broker.dedup_stores.aclose()
