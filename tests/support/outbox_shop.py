"""The outbox fault tests' shop: throwaway outbox tables, an exchange and queue for the events,
and the orders written so far (``outbox_orders``), on any RabbitMQ and PostgreSQL (the shared
ones, or a test's private node and server that it restarts)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
import asyncpg

from faststream_hare import HareBroker
from faststream_hare.outbox import Outbox, OutboxTables
from tests.support.outbox_orders import Written, create_tables, drop_tables, write_orders
from tests.support.postgres import fresh_tables, schema

CUSTOMERS = 50


class Shop:
    """Orders written through an outbox (no relay of its own) and the queue of their events."""

    def __init__(
        self, tables: OutboxTables, amqp_url: str, dsn: str, pool: Any, exchange: str, queue: Any
    ) -> None:
        self.tables = tables
        self.dsn = dsn
        self.pool = pool
        self.exchange = exchange
        self.queue = queue
        self.queue_name: str = queue.name
        self.written = Written()
        writer_broker = HareBroker(amqp_url, logger=None)
        self._writer = Outbox(writer_broker, dsn=dsn, table=tables.outbox, relay=False)

    async def write(self, orders: int, *, workers: int = 20, first: int = 0) -> Written:
        """Commit ``orders`` more orders (10 % rolled back); what this call wrote."""
        written = await write_orders(
            self.pool,
            self._writer,
            self.tables.outbox,
            exchange=self.exchange,
            orders=orders,
            workers=workers,
            customers=CUSTOMERS,
            first=first,
        )
        self.written.committed.update(written.committed)
        self.written.rolled_back.update(written.rolled_back)
        return written


@asynccontextmanager
async def open_shop(prefix: str, amqp_url: str, dsn: str) -> AsyncIterator[Shop]:
    """A shop with no orders yet; its tables are dropped afterwards (the exchange and queue are
    the prefix's, deleted with it, or die with a private node)."""
    tables = fresh_tables()
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(f"{prefix}.ex", "topic", durable=True)
        queue = await channel.declare_queue(f"{prefix}.q", durable=True)
        await queue.bind(exchange, "#")
        async with schema(tables, dsn):
            pool = await asyncpg.create_pool(dsn, min_size=20, max_size=20)
            try:
                await create_tables(pool, tables.outbox, customers=CUSTOMERS)
                yield Shop(tables, amqp_url, dsn, pool, exchange.name, queue)
            finally:
                await pool.expire_connections()  # a test may have restarted PostgreSQL
                await drop_tables(pool, tables.outbox)
                await pool.close()
    finally:
        await connection.close()
