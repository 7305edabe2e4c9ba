"""Stopping an outbox whose relay is stuck: PostgreSQL stopped answering in the middle of a
query (a FaultProxy in front of it stalls the link). ``broker.stop()`` must return within its
bound, a cancel of the caller must reach the caller, and the row the relay could not handle
stays in the table (exact message ids)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import asyncpg
import pytest

from faststream_hare import HareBroker, HareSettings
from faststream_hare._internal.tasks import END_TIMEOUT_S
from faststream_hare.outbox import Outbox, OutboxTables
from faststream_hare.outbox import outbox as outbox_module
from tests.support.fault_proxy import FaultProxy
from tests.support.postgres import PG_DSN, fresh_tables, schema
from tests.support.rabbit_admin import AMQP_URL

pytestmark = [pytest.mark.rabbit, pytest.mark.timeout(120)]

GRACE_S = 1.0


@pytest.fixture
async def pg_proxy() -> AsyncIterator[FaultProxy]:
    """A FaultProxy in front of PostgreSQL."""
    async with FaultProxy("127.0.0.1", 5432) as proxy:
        yield proxy


@pytest.fixture
async def tables() -> AsyncIterator[OutboxTables]:
    tables = fresh_tables()
    async with schema(tables):
        yield tables


@pytest.fixture(autouse=True)
def short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch in flight gets 1 s instead of 10 (the bound under test stays the same)."""
    monkeypatch.setattr(outbox_module, "STOP_GRACE_S", GRACE_S)


async def commit(outbox: Outbox, exchange: str, message_id: str) -> None:
    """One row committed straight to PostgreSQL (not through the stalled link)."""
    conn = await asyncpg.connect(PG_DSN)
    try:
        async with conn.transaction():
            await outbox.add(
                conn, {"id": message_id}, exchange=exchange, routing_key="r", message_id=message_id
            )
    finally:
        await conn.close()


async def waiting_ids(tables: OutboxTables) -> list[str]:
    conn = await asyncpg.connect(PG_DSN)
    try:
        rows = await conn.fetch(f"SELECT message_id FROM {tables.outbox} ORDER BY id")
        return [row["message_id"] for row in rows]
    finally:
        await conn.close()


async def stuck_outbox(
    prefix: str, tables: OutboxTables, pg_proxy: FaultProxy, channel: Any
) -> tuple[HareBroker, Outbox, Any, asyncio.Task[None]]:
    """A started broker whose relay published one row through the proxy, then got stuck in a
    query on the stalled link; the queue (empty) and the stall."""
    exchange = await channel.declare_exchange(f"{prefix}.ex", "topic", durable=True)
    queue = await channel.declare_queue(f"{prefix}.q", durable=True)
    await queue.bind(exchange, "#")
    broker = HareBroker(AMQP_URL, settings=HareSettings(reconnect_interval_ms=200), logger=None)
    outbox = Outbox(
        broker,
        dsn=f"postgresql://postgres@127.0.0.1:{pg_proxy.port}/test",
        table=tables.outbox,
        inbox_table=tables.inbox,
        poll_interval_ms=50,
    )
    await broker.start()
    await commit(outbox, exchange.name, "before-stall")
    message = None
    deadline = time.monotonic() + 30
    while message is None:
        assert time.monotonic() < deadline, "the relay never published through the proxy"
        message = await queue.get(no_ack=True, fail=False)
        await asyncio.sleep(0.02)
    assert message.message_id == "before-stall"
    stall = asyncio.create_task(pg_proxy.stall(60))
    await asyncio.sleep(0.5)  # the relay polls every 50 ms: it is now inside a query
    await commit(outbox, exchange.name, "during-stall")
    await asyncio.sleep(0.5)
    return broker, outbox, queue, stall


async def test_broker_stop_returns_within_its_bound_while_postgresql_does_not_answer(
    prefix: str, channel: aio_pika.abc.AbstractChannel, tables: OutboxTables, pg_proxy: FaultProxy
) -> None:
    broker, outbox, queue, stall = await stuck_outbox(prefix, tables, pg_proxy, channel)
    try:
        started = time.monotonic()
        await broker.stop()
        took = time.monotonic() - started
    finally:
        stall.cancel()
    print(f"[fault] broker.stop() with PostgreSQL stalled took {took:.2f} s")
    assert took < GRACE_S + END_TIMEOUT_S
    assert await waiting_ids(tables) == ["during-stall"]  # kept, not lost
    assert await queue.get(no_ack=True, fail=False) is None  # and not published
    assert outbox.relayed == 1


async def test_a_cancelled_stop_reaches_its_caller_and_still_ends_the_relay(
    prefix: str, channel: aio_pika.abc.AbstractChannel, tables: OutboxTables, pg_proxy: FaultProxy
) -> None:
    broker, outbox, queue, stall = await stuck_outbox(prefix, tables, pg_proxy, channel)
    relay = outbox._task
    assert relay is not None
    try:
        stopping = asyncio.create_task(outbox.stop())
        await asyncio.sleep(GRACE_S / 2)  # inside the grace for the batch in flight
        stopping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stopping
        assert relay.done()
    finally:
        stall.cancel()
        await broker.stop()
    assert await waiting_ids(tables) == ["during-stall"]
    assert await queue.get(no_ack=True, fail=False) is None
