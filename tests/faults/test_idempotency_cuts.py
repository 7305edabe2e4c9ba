"""Link cuts while consuming: with ``idempotent=`` no successful handler runs twice.

The same load runs twice through a fault proxy that cuts the link every 0.4 s: once without
idempotency (acks lost with the link make redeliveries run again) and once with it. Run with
``-s`` to see both figures.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest
from faststream.rabbit.annotations import RabbitMessage

from faststream_hare import HareBroker, HareSettings, Idempotency
from tests.faults.accounting import publish_ids
from tests.support.amqp import wait_depth
from tests.support.fault_proxy import FaultProxy
from tests.support.rabbit_admin import REDIS_URL
from tests.support.waiting import eventually

pytestmark = [pytest.mark.rabbit, pytest.mark.redis]

COUNT = 1_000
CUTS = 6


async def handled_twice(queue: str, idempotent: Idempotency | None) -> int:
    """Consume ``COUNT`` messages with link cuts; how many ids were handled more than once."""
    handled: Counter[str] = Counter()
    async with FaultProxy() as proxy:
        broker = HareBroker(
            proxy.url(), settings=HareSettings(reconnect_interval_ms=300), logger=None
        )

        @broker.subscriber(queue, prefetch_count=20, retry_limit=3, idempotent=idempotent)
        async def handle(body: dict[str, str], message: RabbitMessage) -> None:
            await asyncio.sleep(0.05)  # 20 at a time: the cuts land mid-run
            handled[body["id"]] += 1

        async with broker:
            await broker.start()
            ids = [f"{queue}-{n}" for n in range(COUNT)]
            await publish_ids(queue, {i: json.dumps({"id": i}).encode() for i in ids})
            for _ in range(CUTS):
                await asyncio.sleep(0.4)
                proxy.cut()
            await eventually(lambda: len(handled) == COUNT, timeout=90)
            await wait_depth(queue, 0, timeout=30)
    assert set(handled) == set(ids)  # nothing lost
    return sum(1 for n in handled.values() if n > 1)


async def test_link_cuts_make_no_successful_handler_run_twice_with_idempotency(
    prefix: str,
) -> None:
    without = await handled_twice(f"{prefix}.plain", None)
    with_idempotency = await handled_twice(
        f"{prefix}.idem", Idempotency(period_ms=600_000, store=REDIS_URL)
    )
    print(f"[idempotency] handled twice: without={without} with={with_idempotency}")
    assert with_idempotency == 0
