"""The link cut while FastStream publishes a handler's return value: nothing lost
(docs/guarantees.md, Consuming).

The handler returns, then the connection dies under the ``@publisher`` publish of its return
value. The message is accounted for like a raising handler's (retried, or back in ``Q`` with
the dead channel) and every id's output is published in the end. Exact accounting by id. (A
regression guard: the dead channel already gave these messages back before ``DeliveryGuard``.)
"""

from __future__ import annotations

import asyncio
import json

import pytest

from faststream_hare import HareBroker, HareSettings
from tests.faults.conftest import Account, dead_ids
from tests.faults.test_pool_cuts import publish_ids
from tests.support.amqp import drain_named
from tests.support.fault_proxy import FaultProxy

pytestmark = pytest.mark.rabbit

MESSAGES = 40


async def test_a_cut_under_the_reply_publish_loses_nothing(
    prefix: str, fault_proxy: FaultProxy, account: Account
) -> None:
    queue, out = f"{prefix}.in", f"{prefix}.out"
    settings = HareSettings(reconnect_interval_ms=500, shutdown_drain_timeout_ms=5_000)
    broker = HareBroker(f"{fault_proxy.url()}?name={prefix}", settings=settings, logger=None)
    cut_for: set[str] = set()

    @broker.subscriber(queue, retry_limit=5, delay_in_ms=50)
    @broker.publisher(out)
    async def handle(body: dict[str, str]) -> dict[str, str]:
        message_id = body["id"]
        if message_id.endswith("7") and message_id not in cut_for:
            cut_for.add(message_id)
            fault_proxy.cut()  # the return value is published on a dead link
        return body

    ids = [account.publish(f"r{n}") for n in range(MESSAGES)]
    await broker.start()
    try:
        channel = await (await broker.connect()).channel()
        await channel.declare_queue(out, durable=True)
        await channel.close()
        await publish_ids(queue, ids)

        async def replies() -> int:
            for message in await drain_named(out):
                account.handle(json.loads(message.body)["id"])
            return account.settled

        for _ in range(300):  # at most 30 s
            if await replies() == len(ids):
                break
            await asyncio.sleep(0.1)
    finally:
        await broker.stop()
    account.dead_letter(await dead_ids(queue))
    account.report("cuts under the reply publish", cuts=fault_proxy.cuts, messages=len(ids))
    assert account.lost == []
