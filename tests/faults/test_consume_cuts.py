"""Consuming with retries while the link is cut every second: every id accounted for."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from faststream.rabbit.annotations import RabbitMessage

from faststream_hare import HareBroker, HareSettings
from tests.faults.accounting import message_ids, publish_ids, recovery_after, summary
from tests.faults.conftest import Account
from tests.support.fault_proxy import FaultProxy
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit

COUNT = 2_000
CUTS = 8


async def test_link_cut_every_second_while_2000_messages_are_consumed(
    prefix: str, fault_proxy: FaultProxy, account: Account
) -> None:
    queue = f"{prefix}.cuts"
    ids = [account.publish(f"c{n}") for n in range(COUNT)]
    fail_once = {i for n, i in enumerate(ids) if n % 5 == 0}  # 20 %
    poison = {i for n, i in enumerate(ids) if n % 50 == 1}  # 2 %, never in fail_once
    attempts: dict[str, int] = {}
    handled_at: list[float] = []
    broker = HareBroker(
        fault_proxy.url(), settings=HareSettings(reconnect_interval_ms=1_000), logger=None
    )

    @broker.subscriber(queue, prefetch_count=20, retry_limit=3, delay_cascade_in_ms=[50, 100])
    async def handle(body: dict[str, str], message: RabbitMessage) -> None:
        message_id = body["id"]
        attempts[message_id] = attempts.get(message_id, 0) + 1
        await asyncio.sleep(0.1)  # 20 at a time: about 10 s for all, the cuts land mid-run
        if message_id in fail_once and attempts[message_id] == 1:
            raise RuntimeError("fails once")
        account.handle(message_id)
        handled_at.append(time.monotonic())

    cut_at: list[float] = []
    async with broker:
        await broker.start()
        bodies = {i: b"{not json" if i in poison else json.dumps({"id": i}).encode() for i in ids}
        await publish_ids(queue, bodies)

        async def cut_every_second() -> None:
            for _ in range(CUTS):
                await asyncio.sleep(1.0)
                fault_proxy.cut()
                cut_at.append(time.monotonic())

        cutter = asyncio.create_task(cut_every_second())
        try:
            await eventually(lambda: len(account.handled) == COUNT - len(poison), timeout=90)
        finally:
            cutter.cancel()
            await asyncio.gather(cutter, return_exceptions=True)

        async def all_dead_arrived() -> bool:
            account.dead.update(await message_ids(f"{queue}.dead"))
            return poison <= set(account.dead)

        deadline = time.monotonic() + 30
        while not await all_dead_arrived():
            assert time.monotonic() < deadline, "poison messages missing from Q.dead"
            await asyncio.sleep(0.2)

    recoveries = recovery_after(cut_at, handled_at)
    account.report("consume with cuts", cuts=fault_proxy.cuts, **summary(recoveries))
    assert account.lost == []
    assert set(account.dead) == poison
