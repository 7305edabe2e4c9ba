"""Consumer pools and the auto-scaler under AMQP link cuts: nothing lost, nothing left unacked.

The app's broker URL goes through a FaultProxy; the test publishes and inspects over its own
direct connection. A cut aborts every connection through the proxy (as a dead link would; one
cut also refuses new connections for a few seconds, as a broker that is down would);
10 % of the messages fail once, so retry copies are in flight when the link drops.
"""

from __future__ import annotations

import asyncio
import json
from functools import partial

import aio_pika
import pytest

from faststream_hare import AutoScaling, HareBroker, HareSettings
from tests.faults.conftest import Account, dead_ids, reached
from tests.support.fault_proxy import FaultProxy, Stopwatch
from tests.support.rabbit_admin import AMQP_URL, RabbitAdmin
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit

BATCH = 120
CUTS = 4
#: How long the link refuses connections in one of the cuts (the outage, not a wait).
DOWN_S = 3.0


def proxied_broker(prefix: str, proxy: FaultProxy) -> HareBroker:
    settings = HareSettings(reconnect_interval_ms=500, shutdown_drain_timeout_ms=5_000)
    return HareBroker(f"{proxy.url()}?name={prefix}", settings=settings, logger=None)


async def publish_ids(queue: str, ids: list[str]) -> None:
    """Publish ``{"id": ...}`` to ``queue`` over a direct connection, each one confirmed."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        for message_id in ids:
            body = json.dumps({"id": message_id}).encode()
            message = aio_pika.Message(body, content_type="application/json", delivery_mode=2)
            await channel.default_exchange.publish(message, routing_key=queue)
    finally:
        await connection.close()


async def keep_cutting(proxy: FaultProxy, account: Account, recoveries: list[float]) -> None:
    """Cut the link every 0.7 s; while messages remain, time how long handling takes to resume."""
    while True:
        await asyncio.sleep(0.7)
        handled = len(account.handled)
        proxy.cut()
        watch = Stopwatch()
        if handled + 6 < len(account.published):
            await eventually(reached(lambda: len(account.handled), handled + 6), timeout=30)
            recoveries.append(watch.elapsed())


class FailOnce:
    """Handles ids into the account; every tenth id fails on its first attempt."""

    def __init__(self, account: Account, pause_s: float) -> None:
        self.account = account
        self.pause_s = pause_s
        self.failed: set[str] = set()

    async def __call__(self, body: dict[str, str]) -> None:
        message_id = body["id"]
        await asyncio.sleep(self.pause_s)
        if message_id.endswith("3") and message_id not in self.failed:
            self.failed.add(message_id)
            raise RuntimeError(f"{message_id} fails once")
        self.account.handle(message_id)


async def settle(admin: RabbitAdmin, queue: str, account: Account) -> None:
    """Wait until every id is handled, then check nothing sits unacked or ready in ``queue``."""
    await eventually(lambda: account.settled == len(account.published), timeout=45)
    await asyncio.to_thread(
        admin.wait_for,
        queue,
        lambda q: q["messages_unacknowledged"] == 0 and q["messages_ready"] == 0,
        30,
    )


async def test_pool_of_three_with_a_scale_down_during_cuts(
    prefix: str, admin: RabbitAdmin, fault_proxy: FaultProxy, account: Account
) -> None:
    queue = f"{prefix}.jobs"
    broker = proxied_broker(prefix, fault_proxy)
    handler = FailOnce(account, pause_s=0.005)
    broker.subscriber(queue, consumer_count=3, retry_limit=3, delay_in_ms=100)(handler)

    batches = [[account.publish(f"p{c}.{n}") for n in range(BATCH)] for c in range(CUTS + 1)]
    recoveries: list[float] = []
    await broker.start()
    try:
        pool = broker.consumer_pool(queue)
        await publish_ids(queue, batches[0])
        for cut in range(CUTS):
            done = BATCH * cut + BATCH // 2
            await eventually(reached(lambda: len(account.handled), done), timeout=30)
            if cut == 2:  # the broker looks down for a while: recovery counts from its return
                fault_proxy.block()
                await publish_ids(queue, batches[cut + 1])
                await asyncio.sleep(DOWN_S)
                fault_proxy.unblock()
                watch = Stopwatch()
            else:
                fault_proxy.cut()
                watch = Stopwatch()
                if cut == 1:
                    assert await pool.remove_consumer() == f"{queue}.W3"  # link down
                await publish_ids(queue, batches[cut + 1])
            first_after = batches[cut + 1][0]
            await eventually(
                reached(partial(account.handled.__getitem__, first_after), 1), timeout=30
            )
            recoveries.append(watch.elapsed())
        await settle(admin, queue, account)
        assert pool.list_consumers() == [f"{queue}.W1", f"{queue}.W2"]
    finally:
        await broker.stop()
    account.dead_letter(await dead_ids(queue))

    account.report(
        "pool cuts",
        messages=len(account.published),
        cuts=fault_proxy.cuts,
        recovery_s=max(recoveries),
        dead=sum(account.dead.values()),
    )
    assert account.lost == []
    assert not account.dead, "nothing here may be dead-lettered (every id fails at most once)"


async def test_auto_scaled_pool_scales_up_and_down_under_cuts(
    prefix: str, admin: RabbitAdmin, fault_proxy: FaultProxy, account: Account
) -> None:
    queue = f"{prefix}.jobs"
    broker = proxied_broker(prefix, fault_proxy)
    handler = FailOnce(account, pause_s=0.03)
    scaling = AutoScaling(
        min_consumers=1, max_consumers=4, messages_per_consumer=25, check_interval_ms=200
    )
    broker.subscriber(queue, auto_scaling=scaling, retry_limit=3, delay_in_ms=100)(handler)

    ids = [account.publish(f"a{n}") for n in range(4 * BATCH)]
    sizes: list[int] = []
    recoveries: list[float] = []
    await broker.start()
    pool = broker.consumer_pool(queue)

    async def watch_size() -> None:
        while True:
            sizes.append(pool.size)
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch_size())
    try:
        await publish_ids(queue, ids)
        await eventually(lambda: pool.size == 4, timeout=20)
        cutter = asyncio.create_task(keep_cutting(fault_proxy, account, recoveries))
        try:  # the backlog drains and the pool scales down to 1 while the link keeps dropping
            await eventually(lambda: account.settled == len(ids), timeout=45)
            await eventually(lambda: pool.size == 1, timeout=30)
            cuts = fault_proxy.cuts
            await eventually(reached(lambda: fault_proxy.cuts, cuts + 2), timeout=10)
        finally:
            cutter.cancel()
        assert pool.size == 1, "the pool grew again after the reconnects"
        await settle(admin, queue, account)
    finally:
        watcher.cancel()
        await broker.stop()
    account.dead_letter(await dead_ids(queue))

    account.report(
        "auto-scaled pool cuts",
        messages=len(ids),
        cuts=fault_proxy.cuts,
        max_size=max(sizes),
        recovery_s=max(recoveries),
    )
    assert account.lost == []
    assert not account.dead
    assert max(sizes) == 4
