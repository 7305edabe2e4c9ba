"""A quorum queue whose consumer's link is cut 30 times while it holds every message unacked.

Each cut returns the unacked messages to ``Q``, and RabbitMQ counts each return towards the
queue's delivery limit (4.0: 20 unless set). hare declares its quorum queues without a limit,
so on 3.10 and 4.0 alike every id is still there after the 30th cut and is handled once the
handler is let go.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from faststream.rabbit.annotations import RabbitMessage

from faststream_hare import HareBroker, HareSettings
from tests.faults.accounting import message_ids, publish_ids, recovery_after, summary
from tests.faults.conftest import Account, reached
from tests.support.amqp import wait_depth
from tests.support.fault_proxy import FaultProxy
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit

COUNT = 50
CUTS = 30


async def test_30_cuts_with_every_message_unacked_lose_nothing_on_a_quorum_queue(
    prefix: str, fault_proxy: FaultProxy, account: Account
) -> None:
    queue = f"{prefix}.held"
    ids = [account.publish(f"q{n}") for n in range(COUNT)]
    release = asyncio.Event()
    deliveries = 0
    handled_at: list[float] = []
    most_returns = 0
    broker = HareBroker(
        fault_proxy.url(), settings=HareSettings(reconnect_interval_ms=200), logger=None
    )

    @broker.subscriber(queue, queue_type="quorum", prefetch_count=COUNT, retry_limit=3)
    async def handle(body: dict[str, str], message: RabbitMessage) -> None:
        nonlocal deliveries, most_returns
        deliveries += 1
        returns = (message.headers or {}).get("x-delivery-count") or 0
        most_returns = max(most_returns, int(returns))
        await release.wait()  # held unacked until the last cut
        account.handle(body["id"])
        handled_at.append(time.monotonic())

    cut_at: list[float] = []
    async with broker:
        await broker.start()
        await publish_ids(queue, {i: json.dumps({"id": i}).encode() for i in ids})
        for cut in range(CUTS):
            await eventually(reached(lambda: deliveries, COUNT * (cut + 1)), timeout=30)
            fault_proxy.cut()
            cut_at.append(time.monotonic())
        await eventually(reached(lambda: deliveries, COUNT * (CUTS + 1)), timeout=30)
        release.set()
        await eventually(lambda: set(ids) <= set(account.handled), timeout=30)
        await wait_depth(queue, 0)
    account.dead_letter(await message_ids(f"{queue}.dead"))

    account.report(
        "quorum returns",
        cuts=fault_proxy.cuts,
        most_returns=most_returns,
        **summary(recovery_after(cut_at[-1:], handled_at)),
    )
    assert most_returns >= CUTS  # each came back more often than RabbitMQ 4.0's default allows
    assert account.lost == []
    assert not account.dead
