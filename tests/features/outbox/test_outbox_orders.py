"""10 000 orders by 20 concurrent transactions, 10 % rolled back, relayed in the app: every
committed order's event published once, no rolled-back one, commit order per customer."""

from __future__ import annotations

import asyncio
import time

import aio_pika
import asyncpg
import pytest

from faststream_hare import HareBroker, HareSettings
from faststream_hare.outbox import Outbox
from tests.support.outbox_orders import account, collect, create_tables, drop_tables, write_orders
from tests.support.pools import running
from tests.support.postgres import PG_DSN, fresh_tables, rows_waiting, schema
from tests.support.rabbit_admin import AMQP_URL

pytestmark = pytest.mark.rabbit

ORDERS = 10_000


@pytest.mark.timeout(300)
async def test_ten_thousand_orders_are_published_iff_committed_in_commit_order_per_key(
    prefix: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    tables = fresh_tables()
    exchange = await channel.declare_exchange(f"{prefix}.ex", "topic", durable=True)
    queue = await channel.declare_queue(f"{prefix}.q", durable=True)
    await queue.bind(exchange, "#")
    broker = HareBroker(
        f"{AMQP_URL.rstrip('/')}/?name={prefix}", settings=HareSettings(), logger=None
    )
    pool = await asyncpg.create_pool(PG_DSN, min_size=20, max_size=20)
    outbox = Outbox(broker, pool=pool, table=tables.outbox, inbox_table=tables.inbox)
    name = tables.outbox
    try:
        async with schema(tables):
            await create_tables(pool, name, customers=50)
            try:
                async with running(broker):
                    started = time.monotonic()
                    written, bodies = await asyncio.gather(
                        write_orders(
                            pool,
                            outbox,
                            name,
                            exchange=f"{prefix}.ex",
                            orders=ORDERS,
                            workers=20,
                            customers=50,
                        ),
                        collect(queue, until=ORDERS - ORDERS // 10, timeout=240),
                    )
                    elapsed = time.monotonic() - started
                    await asyncio.sleep(0.5)  # anything extra would arrive now
                    bodies += [m.body for m in await _drain(queue)]
                    left = await rows_waiting(tables)
            finally:
                await drop_tables(pool, name)
    finally:
        await pool.close()
    result = account(written, bodies)
    print(result.report(f"{ORDERS} orders in {elapsed:.1f} s", len(bodies)))
    assert len(written.committed) == ORDERS - ORDERS // 10
    assert len(written.rolled_back) == ORDERS // 10
    assert result.lost == []
    assert result.phantoms == []
    assert result.duplicates == 0
    assert result.order_breaks == []
    assert left == 0


async def _drain(queue: aio_pika.abc.AbstractQueue) -> list[aio_pika.abc.AbstractIncomingMessage]:
    messages = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        messages.append(message)
    return messages
