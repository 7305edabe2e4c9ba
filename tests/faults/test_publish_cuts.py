"""``publish_message`` with deduplication while the link is cut: no OK is lost or doubled,
and a NOT_CONNECTED message can be published again (its claim was released)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import aio_pika
import pytest

from faststream_hare import HareBroker, HareSettings, PublishResult, Unique
from tests.support.fault_proxy import FaultProxy
from tests.support.rabbit_admin import AMQP_URL

pytestmark = pytest.mark.rabbit

COUNT = 300


async def _declare(queue: str) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True)
    finally:
        await connection.close()


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_publish_message_with_dedup_while_the_link_is_cut(
    prefix: str, fault_proxy: FaultProxy, store: str
) -> None:
    queue = f"{prefix}.pub"
    await _declare(queue)
    unique = Unique(
        period_ms=600_000,  # keys are namespaced by this test's queue: no clash in Redis
        keys=["id"],
        store=None if store == "memory" else "redis://127.0.0.1:6379/0",
    )
    broker = HareBroker(
        fault_proxy.url(),
        settings=HareSettings(reconnect_interval_ms=500, confirm_timeout_ms=2_000),
        logger=None,
    )
    publisher = broker.publisher(queue, unique=unique)
    first_results: dict[str, PublishResult] = {}
    final: dict[str, PublishResult] = {}
    republished_as: Counter[PublishResult] = Counter()

    async with broker:
        await broker.start()

        async def cut_now_and_then() -> None:
            while True:
                await asyncio.sleep(0.25)
                fault_proxy.cut()

        cutter = asyncio.create_task(cut_now_and_then())
        try:
            for n in range(COUNT):
                message_id = f"{prefix}-{n}"
                result = await publisher.publish_message({"id": message_id, "n": n})
                first_results[message_id] = result
                final[message_id] = result
                await asyncio.sleep(0.01)  # about 3 s of publishing: a dozen cuts land in it
        finally:
            cutter.cancel()
            await asyncio.gather(cutter, return_exceptions=True)
        # every NOT_CONNECTED can go again, and is then not taken for a duplicate
        for message_id in list(final):
            while final[message_id] is PublishResult.NOT_CONNECTED:
                final[message_id] = await publisher.publish_message(
                    {"id": message_id, "n": int(message_id.rsplit("-", 1)[1])}
                )
                republished_as[final[message_id]] += 1
            assert final[message_id] is PublishResult.OK, (message_id, final[message_id])

    in_queue = await _bodies(queue)
    first_ok = [i for i, r in first_results.items() if r is PublishResult.OK]
    not_connected = [i for i, r in first_results.items() if r is PublishResult.NOT_CONNECTED]
    duplicates = sum(n - 1 for n in in_queue.values() if n > 1)
    print(
        f"[fault] publish with {store} dedup under cuts: ok_first={len(first_ok)} "
        f"not_connected_first={len(not_connected)} cuts={fault_proxy.cuts} "
        f"lost={sum(1 for i in final if in_queue[i] == 0)} duplicates={duplicates}"
    )
    assert PublishResult.DUPLICATE not in republished_as
    assert all(in_queue[i] >= 1 for i in final)  # nothing confirmed is missing
    assert all(in_queue[i] == 1 for i in first_ok)  # an OK is in the queue exactly once


async def _bodies(queue: str) -> Counter[str]:
    """Ids by the message's own ``id`` (publish_message sets a fresh message_id each time)."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        target = await channel.declare_queue(queue, passive=True)
        counts: Counter[str] = Counter()
        while (message := await target.get(no_ack=True, fail=False)) is not None:
            counts[json.loads(message.body)["id"]] += 1
        return counts
    finally:
        await connection.close()
