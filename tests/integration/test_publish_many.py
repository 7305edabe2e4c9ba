"""``publish_many`` against the real RabbitMQ (and Redis): each result matches the queue.

One batch mixes every outcome: the queue has room for ten messages and nacks the rest
(``x-overflow: reject-publish``: NOT_CONNECTED), a publish middleware sends some messages to a
routing key nothing is bound to (UNROUTABLE), some repeat an id (DUPLICATE) and one is not
encodable (ENCODING_FAILED). A second test cuts the connection in the middle of a batch.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
from faststream import BaseMiddleware

from faststream_hare import HareBroker, HareSettings, PublishResult, Unique
from faststream_hare.dedup import DedupStore, MemoryDedupStore, RedisDedupStore
from tests.support.amqp import drain
from tests.support.fault_proxy import FaultProxy
from tests.support.pools import running
from tests.support.rabbit_admin import REDIS_URL

pytestmark = pytest.mark.rabbit

OK, DUPLICATE, NOT_CONNECTED, UNROUTABLE, ENCODING_FAILED = (
    PublishResult.OK,
    PublishResult.DUPLICATE,
    PublishResult.NOT_CONNECTED,
    PublishResult.UNROUTABLE,
    PublishResult.ENCODING_FAILED,
)
ROOM = 10


class Reroute(BaseMiddleware):
    """A message saying ``"lost": true`` goes to a routing key nothing is bound to."""

    async def publish_scope(self, call_next: Any, cmd: Any) -> Any:
        if isinstance(cmd.body, bytes) and b'"lost":true' in cmd.body:
            cmd.destination = "nowhere"
        return await call_next(cmd)


def make_broker(url: str, **settings: Any) -> HareBroker:
    return HareBroker(
        url,
        settings=HareSettings(reconnect_interval_ms=200, **settings),
        middlewares=(Reroute,),
        logger=None,
    )


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[DedupStore]:
    if request.param == "memory":
        memory = MemoryDedupStore()
        yield memory
        await memory.aclose()
        return
    redis = RedisDedupStore(REDIS_URL, name=f"t{uuid.uuid4().hex[:8]}")
    yield redis
    await redis.clear()
    await redis.aclose()


async def claimed(store: DedupStore) -> int:
    return await store.count() if isinstance(store, RedisDedupStore) else len(store)


def ids(messages: list[aio_pika.abc.AbstractIncomingMessage]) -> list[int]:
    return [json.loads(m.body)["id"] for m in messages]


async def test_a_mixed_batch_matches_the_queue_message_by_message(
    prefix: str, broker_url: str, channel: aio_pika.abc.AbstractChannel, store: DedupStore
) -> None:
    broker = make_broker(broker_url)
    orders = broker.publisher(
        exchange=f"{prefix}.ex",
        routing_key="order.created",
        unique=Unique(period_ms=60_000, keys=["id"], store=store),
    )
    async with running(broker):
        queue = await channel.declare_queue(
            f"{prefix}.orders",
            arguments={"x-max-length": ROOM, "x-overflow": "reject-publish"},
        )
        await queue.bind(f"{prefix}.ex", "order.created")
        assert await orders.publish_message({"id": 100}) is OK
        assert ids(await drain(queue)) == [100]

        batch: list[Any] = [{"id": n} for n in range(12)]  # 12 routed, room for 10
        batch[3:3] = [{"id": 50, "lost": True}]
        batch[6:6] = [{"id": 1, "again": True}, {"id": 100}, object()]
        batch += [{"id": 51, "lost": True}, {"id": 11, "again": True}]
        results = await orders.publish_many(batch, max_in_flight=4)

        by_index = dict(enumerate(results))
        assert [i for i, r in by_index.items() if r is DUPLICATE] == [6, 7, 17]
        assert [i for i, r in by_index.items() if r is UNROUTABLE] == [3, 16]
        assert [i for i, r in by_index.items() if r is ENCODING_FAILED] == [8]
        confirmed = [batch[i]["id"] for i, r in by_index.items() if r is OK]
        refused = [batch[i]["id"] for i, r in by_index.items() if r is NOT_CONNECTED]
        assert (len(confirmed), len(refused)) == (ROOM, 12 - ROOM)
        stored = await drain(queue)
        assert sorted(ids(stored)) == sorted(confirmed), "OK means in the queue, and only OK"
        assert len({m.message_id for m in stored}) == ROOM
        assert await claimed(store) == ROOM + 1, "the claims of the failures were released"

        # publishing the failures again is a fresh attempt, never a DUPLICATE
        retry = [{"id": n} for n in [*refused, 50, 51]] + [{"id": confirmed[0]}]
        assert await orders.publish_many(retry) == [OK] * (len(retry) - 1) + [DUPLICATE]
        assert sorted(ids(await drain(queue))) == sorted([*refused, 50, 51])


async def test_a_connection_cut_mid_batch_loses_nothing(
    prefix: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    """Messages in flight at the cut are NOT_CONNECTED (some may be stored anyway: their
    confirm was lost); their claims are released, so publishing them again is OK."""
    cuts: list[bytes] = []
    async with FaultProxy() as proxy:

        class CutAt100(BaseMiddleware):
            async def publish_scope(self, call_next: Any, cmd: Any) -> Any:
                if cmd.body == b'{"id":100}' and not cuts:  # once: not on the retry
                    cuts.append(cmd.body)
                    proxy.cut()
                return await call_next(cmd)

        broker = HareBroker(
            f"{proxy.url()}?name={prefix}",
            settings=HareSettings(reconnect_interval_ms=200, confirm_timeout_ms=5_000),
            middlewares=(CutAt100,),
            logger=None,
        )
        orders = broker.publisher(
            exchange=f"{prefix}.ex", routing_key="order.created", unique=Unique(keys=["id"])
        )
        async with running(broker):
            queue = await channel.declare_queue(f"{prefix}.orders")
            await queue.bind(f"{prefix}.ex", "order.created")
            batch = [{"id": n} for n in range(300)]
            results = await asyncio.wait_for(orders.publish_many(batch, max_in_flight=50), 30)

            assert set(results) <= {OK, NOT_CONNECTED}
            confirmed = {n for n, r in enumerate(results) if r is OK}
            failed = [n for n, r in enumerate(results) if r is NOT_CONNECTED]
            # message 100 is taken only after 51 earlier publishes completed
            assert len([n for n in confirmed if n < 100]) >= 51
            assert 100 in failed
            first = Counter(ids(await drain(queue)))
            assert set(first.values()) == {1}, "each message published once"
            assert confirmed <= set(first) <= confirmed | set(failed)

            pending = list(failed)
            deadline = time.monotonic() + 20
            while pending and time.monotonic() < deadline:  # until the connection is back
                retried = await orders.publish_many([{"id": n} for n in pending])
                assert set(retried) <= {OK, NOT_CONNECTED}, "claims released: no DUPLICATE"
                pending = [n for n, r in zip(pending, retried, strict=True) if r is not OK]
                if pending:
                    await asyncio.sleep(0.2)
            assert pending == []
            second = Counter(ids(await drain(queue)))
    assert set(second) == set(failed)
    assert set(first) | set(second) == set(range(300)), "nothing lost"
