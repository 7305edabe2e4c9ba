"""The link to Redis cut again and again under concurrent ``publish_message`` with Redis dedup.

Every cut may land between Redis running a claim's ``SET`` and its reply reaching the app. A
claim sent again as it was would then find its own key taken and report ``DUPLICATE`` for a
message never published: a loss. The account: every id gets ``OK`` (a ``HareDedupError``
publishes nothing and the publisher tries the same id again), and the queue holds each id
exactly once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter

import aio_pika
import pytest

from faststream_hare import HareBroker, HareDedupError, PublishResult, Unique
from faststream_hare.dedup import RedisDedupStore
from tests.support.amqp import drain
from tests.support.fault_proxy import FaultProxy
from tests.support.rabbit_admin import AMQP_URL

pytestmark = [pytest.mark.rabbit, pytest.mark.redis]

PUBLISHERS = 20
IDS_PER_PUBLISHER = 150
CUT_EVERY_S = 0.05


async def test_redis_link_cuts_lose_no_publish(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="faststream_hare.dedup")
    queue = f"{prefix}.orders"
    outcomes: dict[str, PublishResult] = {}
    refused = 0
    async with FaultProxy(target_port=6379) as proxy:
        store = RedisDedupStore(
            f"redis://127.0.0.1:{proxy.port}/0", name=prefix.replace(":", "_"), timeout_ms=1_000
        )
        broker = HareBroker(f"{AMQP_URL.rstrip('/')}/?name={prefix}", logger=None)
        orders = broker.publisher(queue, unique=Unique(period_ms=600_000, keys=["id"], store=store))

        async def publish_all(worker: int) -> None:
            nonlocal refused
            for n in range(IDS_PER_PUBLISHER):
                message_id = f"w{worker}-{n}"
                while True:
                    try:
                        outcomes[message_id] = await orders.publish_message({"id": message_id})
                        break
                    except HareDedupError:  # nothing was published: the same id again
                        refused += 1
                        await asyncio.sleep(0.01)

        async def cut_again_and_again() -> None:
            while True:
                await asyncio.sleep(CUT_EVERY_S)
                proxy.cut()

        connection = await aio_pika.connect(AMQP_URL)
        try:
            channel = await connection.channel()
            await channel.declare_queue(queue, durable=True)
            await broker.start()
            proxy.slow(0.001)  # replies in flight longer: more cuts land between SET and reply
            cutter = asyncio.create_task(cut_again_and_again())
            try:
                await asyncio.wait_for(
                    asyncio.gather(*(publish_all(w) for w in range(PUBLISHERS))), timeout=120
                )
            finally:
                cutter.cancel()
                await asyncio.gather(cutter, return_exceptions=True)
            proxy.slow(0)
            declared = await channel.declare_queue(queue, passive=True)
            in_queue = Counter(json.loads(m.body)["id"] for m in await drain(declared))
            await store.clear()
        finally:
            await broker.stop()
            await store.aclose()
            await connection.close()

    sent = {f"w{w}-{n}" for w in range(PUBLISHERS) for n in range(IDS_PER_PUBLISHER)}
    not_ok = Counter(str(o) for o in outcomes.values() if o is not PublishResult.OK)
    lost = sorted(sent - set(in_queue))
    duplicates = sum(count - 1 for count in in_queue.values())
    dropped = sum("stale dedup claim" in r.getMessage() for r in caplog.records)
    print(
        f"[fault] redis link cuts: cuts={proxy.cuts} ids={len(sent)} lost={len(lost)} "
        f"duplicates={duplicates} dedup_errors={refused} stale_claims_dropped={dropped} "
        f"not_ok={dict(not_ok)}"
    )
    assert proxy.cuts >= 10
    assert not_ok == Counter(), "a DUPLICATE here is a message never published"
    assert lost == []
    assert in_queue == Counter(sent), "each id in the queue exactly once"
