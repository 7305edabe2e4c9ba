"""Copies confirmed in the background with every message accounted for: exact counts."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from faststream_hare import HareBroker, HareSettings, signals
from tests.faults.accounting import message_ids, publish_ids
from tests.support.amqp import depths, wait_depth
from tests.support.fault_proxy import FaultProxy
from tests.support.rabbit_admin import RabbitAdmin
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit


async def test_1000_failing_messages_with_prefetch_100_end_exactly_in_the_dead_queue(
    prefix: str, broker_url: str, admin: RabbitAdmin
) -> None:
    queue = f"{prefix}.many"
    ids = [f"m{n}" for n in range(1_000)]
    broker = HareBroker(broker_url, logger=None)

    @broker.subscriber(queue, prefetch_count=100, retry_limit=0)
    async def handle(body: dict[str, str]) -> None:
        raise ValueError("always")

    async with broker:
        await broker.start()
        await publish_ids(queue, {i: json.dumps({"id": i}).encode() for i in ids})
        await wait_depth(f"{queue}.dead", 1_000, timeout=60)
        await eventually(lambda: (admin.queue(queue) or {}).get("messages") == 0, timeout=30)
        assert await depths(queue, f"{queue}.delay") == {queue: 0, f"{queue}.delay": 0}
    dead = await message_ids(f"{queue}.dead")
    assert sorted(dead) == sorted(ids)  # each exactly once


async def test_originals_of_copies_not_confirmed_come_back(prefix: str) -> None:
    queue = f"{prefix}.stall"
    ids = [f"s{n}" for n in range(200)]
    requeued: list[str] = []

    def on_requeued(sender: object, measurements: object, metadata: dict[str, str]) -> None:
        if metadata["queue"] == queue:
            requeued.append(metadata["target"])

    async with FaultProxy() as proxy:
        broker = HareBroker(
            proxy.url(),
            settings=HareSettings(confirm_timeout_ms=500, reconnect_interval_ms=200),
            logger=None,
        )
        attempts: dict[str, int] = {}
        stalls: list[asyncio.Task[None]] = []

        @broker.subscriber(queue, prefetch_count=100, retry_limit=0)
        async def handle(body: dict[str, str]) -> None:
            attempts[body["id"]] = attempts.get(body["id"], 0) + 1
            if attempts[body["id"]] == 1 and len(attempts) == 50:
                stalls.append(asyncio.create_task(proxy.stall(1.5)))  # confirms withheld
            raise ValueError("always")

        signals.retry_publisher_message_requeued.connect(on_requeued)
        try:
            async with broker:
                await broker.start()
                await publish_ids(queue, {i: json.dumps({"id": i}).encode() for i in ids})
                await eventually(lambda: set(attempts) == set(ids), timeout=30)
                dead = await _dead_at_least(queue, len(ids))
                await asyncio.gather(*stalls)
        finally:
            signals.retry_publisher_message_requeued.disconnect(on_requeued)
    duplicates = sum(dead.values()) - len(dead)
    print(f"[pipeline] requeued={len(requeued)} dead={len(dead)} duplicates={duplicates}")
    assert set(dead) == set(ids)  # nothing lost; an unconfirmed copy may have landed too
    assert requeued  # some confirms were withheld: their originals went back to Q
    assert all(target == f"{queue}.dead" for target in requeued)


async def _dead_at_least(queue: str, count: int) -> Counter[str]:
    """The ids in ``Q.dead`` once every one of ``count`` ids is there (a copy whose confirm was
    withheld may have landed as well: at least once)."""
    seen: Counter[str] = Counter()
    for _ in range(300):
        seen.update(await message_ids(f"{queue}.dead"))
        if len(seen) >= count:
            return seen
        await asyncio.sleep(0.1)
    raise AssertionError(f"{queue}.dead has {len(seen)} of {count} ids")
