"""Redis stopped mid-run under ``publish_message`` with Redis dedup.

A throwaway ``redis-server`` that the test starts on a free port (never the machine's Redis):
while it is down every publish raises ``HareDedupError`` and publishes nothing; once it is back
on the same port, publishing is normal again without restarting the app. The account: the
queue holds exactly the ids that got ``OK``, each once.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import aio_pika
import pytest

from faststream_hare import HareBroker, HareDedupError, HareSettings, PublishResult, Unique
from tests.support.amqp import drain
from tests.support.fault_proxy import Stopwatch
from tests.support.rabbit_admin import AMQP_URL
from tests.support.redis_server import ThrowawayRedis
from tests.support.waiting import eventually

pytestmark = [pytest.mark.rabbit, pytest.mark.redis]


class Publishing:
    """Publishes ``{"id": "r<n>"}`` in a loop and records each id's outcome."""

    def __init__(self) -> None:
        self.outcomes: dict[str, PublishResult | str] = {}
        self.running = True

    def count(self, outcome: PublishResult | str) -> int:
        return sum(1 for value in self.outcomes.values() if value == outcome)

    async def run(self, publish: object) -> None:
        n = 0
        while self.running:
            message_id = f"r{n}"
            n += 1
            try:
                self.outcomes[message_id] = await publish({"id": message_id})  # type: ignore[operator]
            except HareDedupError:
                self.outcomes[message_id] = "HareDedupError"
            await asyncio.sleep(0.005)


async def queued_ids(queue: str) -> Counter[str]:
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return Counter(json.loads(m.body)["id"] for m in await drain(declared))
    finally:
        await connection.close()


async def test_redis_down_raises_publishes_nothing_and_recovers(
    prefix: str, throwaway_redis: ThrowawayRedis
) -> None:
    queue = f"{prefix}.orders"
    throwaway_redis.start()
    await eventually(throwaway_redis.answers, timeout=10)

    broker = HareBroker(
        f"{AMQP_URL.rstrip('/')}/?name={prefix}", settings=HareSettings(), logger=None
    )
    unique = Unique(period_ms=600_000, keys=["id"], store=throwaway_redis.url)
    orders = broker.publisher(queue, unique=unique)
    connection = await aio_pika.connect(AMQP_URL)
    loop = Publishing()
    try:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True)
        await broker.start()
        publishing = asyncio.create_task(loop.run(orders.publish_message))
        try:
            await eventually(lambda: loop.count(PublishResult.OK) >= 100)
            throwaway_redis.stop()  # mid-run
            ok_before = loop.count(PublishResult.OK)
            await eventually(lambda: loop.count("HareDedupError") >= 50, timeout=30)
            throwaway_redis.start()  # same port, empty (no persistence)
            watch = Stopwatch()
            ok_down = loop.count(PublishResult.OK)  # publishes whose claim beat the kill
            await eventually(lambda: loop.count(PublishResult.OK) > ok_down, timeout=30)
            recovery_s = watch.elapsed()  # includes redis-server's own start
            await eventually(lambda: loop.count(PublishResult.OK) >= ok_before + 100, timeout=30)
        finally:
            loop.running = False
            await publishing
        refused = [i for i, outcome in loop.outcomes.items() if outcome == "HareDedupError"]
        again = [await orders.publish_message({"id": i}) for i in refused]
        in_queue = await queued_ids(queue)
    finally:
        await broker.stop()
        await connection.close()

    ok = {i for i, outcome in loop.outcomes.items() if outcome == PublishResult.OK}
    others = Counter(
        o for o in loop.outcomes.values() if o not in (PublishResult.OK, "HareDedupError")
    )
    lost = sorted(ok - set(in_queue))
    unchecked = sorted(set(in_queue) - ok - set(refused))
    duplicates = sum(count - 1 for count in in_queue.values())
    print(
        f"[fault] redis outage: lost={len(lost)} duplicates={duplicates} ok={len(ok)} "
        f"dedup_errors={len(refused)} unchecked={len(unchecked)} recovery_s={recovery_s:.2f}"
    )
    assert others == Counter(), "every publish is OK or HareDedupError"
    assert again == [PublishResult.OK] * len(refused), "a refused publish must not be a DUPLICATE"
    assert lost == []
    assert unchecked == []
    assert in_queue == Counter(ok | set(refused)), "each OK id in the queue exactly once"


async def test_retry_after_a_stalled_claim_is_published(
    prefix: str, throwaway_redis: ThrowawayRedis
) -> None:
    """HareDedupError says "nothing was published": publishing the message again must work."""
    queue = f"{prefix}.orders"
    throwaway_redis.start()
    await eventually(throwaway_redis.answers, timeout=10)
    broker = HareBroker(f"{AMQP_URL.rstrip('/')}/?name={prefix}", logger=None)
    unique = Unique(period_ms=600_000, keys=["id"], store=throwaway_redis.url)
    orders = broker.publisher(queue, unique=unique)
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True)
        await broker.start()
        assert await orders.publish_message({"id": "before"}) is PublishResult.OK
        throwaway_redis.pause()
        try:
            with pytest.raises(HareDedupError):  # after the store's 2 s timeout
                await orders.publish_message({"id": "x"})
        finally:
            throwaway_redis.resume()
        await eventually(throwaway_redis.answers, timeout=10)
        again = await orders.publish_message({"id": "x"})
        in_queue = await queued_ids(queue)
    finally:
        await broker.stop()
        await connection.close()

    print(f"[fault] redis stalled claim: retry={again.name} queue={dict(in_queue)}")
    assert in_queue == Counter({"before": 1, "x": 1})
    assert again is PublishResult.OK
