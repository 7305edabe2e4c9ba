"""The outbox relay under faults, with an exact account of order ids: a relay SIGKILLed
mid-batch, two relays in two processes, RabbitMQ's link cut (restarts of PostgreSQL and
RabbitMQ themselves: ``test_outbox_restarts.py``, on servers of their own).

Each test first commits a backlog of orders (10 % rolled back) with no relay running, then
relays it while the fault happens, and settles the account: lost must be 0, nothing rolled
back is published, duplicates (same message_id, only after a relay stopped between publish
and delete) are counted and printed: ``[fault] lost=0 duplicates=…``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from faststream_hare import HareBroker, HareSettings
from faststream_hare.outbox import Outbox, OutboxTables
from tests.support.fault_proxy import FaultProxy
from tests.support.outbox_orders import account, collect
from tests.support.outbox_shop import Shop, open_shop
from tests.support.pools import running
from tests.support.postgres import PG_DSN, rows_waiting
from tests.support.rabbit_admin import AMQP_URL
from tests.support.relay_process import RelayProcess

pytestmark = [pytest.mark.rabbit, pytest.mark.timeout(300)]

ORDERS = 4_000
COMMITTED = ORDERS - ORDERS // 10


@pytest.fixture
async def shop(prefix: str) -> AsyncIterator[Shop]:
    """A committed backlog of ``ORDERS`` orders (10 % rolled back) on the shared services."""
    async with open_shop(prefix, AMQP_URL, PG_DSN) as shop:
        await shop.write(ORDERS)
        assert len(shop.written.committed) == COMMITTED
        assert await rows_waiting(shop.tables) == COMMITTED
        yield shop


async def received_at_least(queue: Any, count: int) -> list[bytes]:
    """Consume until ``count`` messages arrived (the fault happens after that)."""
    got: list[bytes] = []
    async with queue.iterator() as messages:
        async for message in messages:
            await message.ack()
            got.append(message.body)
            if len(got) >= count:
                return got
    return got


async def taken_rows(tables: OutboxTables) -> int:
    """Rows a relay has taken (tries counted) and not deleted."""
    conn = await asyncpg.connect(PG_DSN)
    try:
        count: int = await conn.fetchval(f"SELECT count(*) FROM {tables.outbox} WHERE tries > 0")
        return count
    finally:
        await conn.close()


async def batch_in_flight(tables: OutboxTables) -> int:
    """Wait until a relay has taken a batch (tries counted, rows not deleted); its size."""
    conn = await asyncpg.connect(PG_DSN)
    try:
        while True:
            taken: int = await conn.fetchval(
                f"SELECT count(*) FROM {tables.outbox} WHERE tries > 0"
            )
            if taken:
                return taken
            await asyncio.sleep(0.001)
    finally:
        await conn.close()


def settle(what: str, shop: Shop, bodies: list[bytes], started: float, **extra: int) -> Any:
    result = account(shop.written, bodies)
    extras = " ".join(f"{k}={v}" for k, v in extra.items())
    print(
        f"[fault] {what}: lost={len(result.lost)} duplicates={result.duplicates} "
        f"phantoms={len(result.phantoms)} order_breaks={len(result.order_breaks)} {extras} "
        f"recovery_s={time.monotonic() - started:.1f}"
    )
    assert result.lost == []
    assert result.phantoms == []
    return result


async def test_a_relay_sigkilled_mid_batch_loses_nothing_and_republishes_with_the_same_id(
    shop: Shop, fault_proxy: FaultProxy
) -> None:
    # the relay pipelines a batch in well under a second: slowed through the proxy, a batch
    # is in flight most of the time, for the kill to land in one
    fault_proxy.slow(0.1)
    first = RelayProcess(shop.tables, batch=500, amqp_url=fault_proxy.url())
    second: RelayProcess | None = None
    stalled: asyncio.Task[None] | None = None
    try:
        bodies = await asyncio.wait_for(received_at_least(shop.queue, 500), 60)
        await asyncio.wait_for(batch_in_flight(shop.tables), 60)
        # hold its confirms so the batch stays in flight, then kill it: some of the batch
        # reached RabbitMQ, none of it is deleted
        stalled = asyncio.create_task(fault_proxy.stall(60))
        await asyncio.sleep(0.2)
        first.kill()
        started = time.monotonic()
        in_flight = await taken_rows(shop.tables)
        waiting = await rows_waiting(shop.tables)
        second = RelayProcess(shop.tables, batch=500)
        bodies += await collect(shop.queue, until=COMMITTED, timeout=120, seen=bodies)
        await asyncio.sleep(0.5)
        published, republished = second.stop()
    finally:
        if stalled is not None:
            stalled.cancel()
        first.close()
        if second is not None:
            second.close()
    result = settle(
        "relay SIGKILLed", shop, bodies, started, republished=republished, in_flight=in_flight
    )
    assert in_flight > 0  # it really died mid-batch
    # the rows it had taken are republished (counted); only they can be duplicates
    assert republished >= in_flight
    assert result.duplicates <= republished
    assert published == waiting
    assert await rows_waiting(shop.tables) == 0


async def test_two_relays_in_two_processes_share_the_work_and_publish_no_row_twice(
    shop: Shop,
) -> None:
    relays = [RelayProcess(shop.tables, batch=100) for _ in range(2)]
    try:
        started = time.monotonic()
        bodies = await collect(shop.queue, until=COMMITTED, timeout=120)
        await asyncio.sleep(0.5)
        counts = [relay.stop() for relay in relays]
    finally:
        for relay in relays:
            relay.close()
    result = settle("two relays", shop, bodies, started, relay_a=counts[0][0], relay_b=counts[1][0])
    assert result.duplicates == 0
    assert result.order_breaks == []
    assert sum(published for published, _ in counts) == COMMITTED
    assert all(published > 0 for published, _ in counts), counts
    assert all(republished == 0 for _, republished in counts)


async def test_rabbitmq_link_cut_under_the_relay_loses_nothing(
    shop: Shop, fault_proxy: FaultProxy
) -> None:
    broker = HareBroker(
        fault_proxy.url(), settings=HareSettings(reconnect_interval_ms=200), logger=None
    )
    outbox = Outbox(broker, dsn=PG_DSN, table=shop.tables.outbox, batch_size=200)
    async with running(broker):
        bodies = await asyncio.wait_for(received_at_least(shop.queue, 1_000), 60)
        started = time.monotonic()
        fault_proxy.cut()
        await asyncio.sleep(0.3)
        fault_proxy.cut()
        bodies += await collect(shop.queue, until=COMMITTED, timeout=120, seen=bodies)
        await asyncio.sleep(0.5)
        republished = outbox.republished
    settle("RabbitMQ link cut twice", shop, bodies, started, republished=republished)
    assert await rows_waiting(shop.tables) == 0
