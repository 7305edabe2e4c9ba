"""The transactional outbox against ``publish_message``, in one process and one run.

Throughput (``--messages`` events, ``--writers`` concurrent writers, best of ``--rounds``):

* publish_message: each writer calls ``publish_message`` one event after the other (each call
  waits for its confirm);
* relay: the same events committed to the outbox first (key = one of ``--keys`` customers),
  then the relay in this process publishes them confirmed and deletes them — the outbox's own
  cost, timed from the relay's start to the last row deleted;
* app path, both with one transaction per event that inserts an order row: ``publish_message``
  after the commit, against ``outbox.add`` in the transaction (timed until the relay confirmed
  the last one). PostgreSQL's commit rate bounds both.

Latency with ``LISTEN``/``NOTIFY``: one event committed every ``--gap-ms`` on an idle relay;
the time from ``COMMIT`` returning to a consumer in this process receiving the message
(includes the consumer's delivery), p50/p99.

Run: ``.venv/bin/python benchmarks/bench_outbox.py [--messages 10000]`` (needs RabbitMQ on
127.0.0.1:5672 and PostgreSQL on 127.0.0.1:5432, database ``test``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import asyncpg

from faststream_hare import HareBroker, HareSettings
from faststream_hare.outbox import Outbox, OutboxTables

AMQP_URL = os.environ.get("HARE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
PG_DSN = os.environ.get("HARE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


async def waiting(pool: asyncpg.Pool, tables: OutboxTables) -> int:
    count: int = await pool.fetchval(f"SELECT count(*) FROM {tables.outbox}")
    return count


async def run_publish_message(broker: HareBroker, exchange: str, n: int, writers: int) -> float:
    publisher = broker.publisher(exchange=exchange, routing_key="order.created", hare=True)
    await publisher.start()
    pending = iter(range(n))

    async def writer() -> None:
        for i in pending:
            await publisher.publish_message(order_event(i, 100))

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    return n / (time.perf_counter() - started)


Step = Callable[[Any, int], Awaitable[None]]


async def write_orders(
    pool: asyncpg.Pool, n: int, writers: int, *, inside: Step | None, after: Step | None
) -> None:
    """``n`` transactions by ``writers`` concurrent writers, each inserting an order row, with
    ``inside(conn, i)`` in the transaction and ``after(conn, i)`` after its commit."""
    pending = iter(range(n))

    async def writer() -> None:
        for i in pending:
            async with pool.acquire() as conn:
                async with conn.transaction():
                    await conn.execute("INSERT INTO bench_outbox_orders VALUES ($1)", i)
                    if inside is not None:
                        await inside(conn, i)
                if after is not None:
                    await after(conn, i)

    await asyncio.gather(*(writer() for _ in range(writers)))


def order_event(i: int, keys: int) -> dict[str, Any]:
    return {"order_id": i, "customer": f"c{i % keys}"}


async def drained(pool: asyncpg.Pool, tables: OutboxTables) -> None:
    while await waiting(pool, tables):  # noqa: ASYNC110 - polling the table is the point
        await asyncio.sleep(0.002)


async def run_relay(pool: asyncpg.Pool, outbox: Outbox, exchange: str, n: int, keys: int) -> float:
    """Commit ``n`` rows while no relay runs, then time the relay draining them."""
    await outbox.stop()
    async with pool.acquire() as conn, conn.transaction():
        for i in range(n):
            await outbox.add(
                conn,
                order_event(i, keys),
                exchange=exchange,
                routing_key="order.created",
                key=f"c{i % keys}",
            )
    started = time.perf_counter()
    outbox.start_relay()
    await drained(pool, outbox.tables)
    return n / (time.perf_counter() - started)


async def run_app_path(
    pool: asyncpg.Pool,
    broker: HareBroker,
    outbox: Outbox,
    exchange: str,
    n: int,
    writers: int,
    keys: int,
) -> tuple[float, float]:
    """(tx + publish_message after commit, tx with outbox.add until confirmed), events/s."""
    publisher = broker.publisher(exchange=exchange, routing_key="order.created", hare=True)
    await publisher.start()

    async def publish(conn: Any, i: int) -> None:
        await publisher.publish_message(order_event(i, keys))

    async def add(conn: Any, i: int) -> None:
        await outbox.add(
            conn,
            order_event(i, keys),
            exchange=exchange,
            routing_key="order.created",
            key=f"c{i % keys}",
        )

    await pool.execute("TRUNCATE bench_outbox_orders")
    started = time.perf_counter()
    await write_orders(pool, n, writers, inside=None, after=publish)
    direct = n / (time.perf_counter() - started)
    await pool.execute("TRUNCATE bench_outbox_orders")
    started = time.perf_counter()
    await write_orders(pool, n, writers, inside=add, after=None)
    await drained(pool, outbox.tables)
    return direct, n / (time.perf_counter() - started)


async def latency(
    pool: asyncpg.Pool,
    outbox: Outbox,
    exchange: str,
    queue: aio_pika.abc.AbstractQueue,
    count: int,
    gap_s: float,
) -> list[float]:
    committed: dict[str, float] = {}
    received: dict[str, float] = {}
    done = asyncio.Event()

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        received[message.message_id or ""] = time.perf_counter()
        if len(received) == count:
            done.set()

    tag = await queue.consume(on_message, no_ack=True)
    try:
        for i in range(count):
            message_id = uuid.uuid4().hex
            async with pool.acquire() as conn:
                async with conn.transaction():
                    await outbox.add(
                        conn,
                        {"n": i},
                        exchange=exchange,
                        routing_key="r",
                        message_id=message_id,
                        key="latency",
                    )
                committed[message_id] = time.perf_counter()
            await asyncio.sleep(gap_s)
        await asyncio.wait_for(done.wait(), 30)
    finally:
        await queue.cancel(tag)
    return [received[message_id] - at for message_id, at in committed.items()]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main(args: argparse.Namespace) -> None:
    suffix = uuid.uuid4().hex[:8]
    tables = OutboxTables(f"bench_outbox_{suffix}", f"bench_inbox_{suffix}")
    exchange_name = f"bench_outbox_{suffix}.ex"
    connection = await aio_pika.connect(AMQP_URL)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(exchange_name, "topic", durable=True)
    queue = await channel.declare_queue(f"bench_outbox_{suffix}.q", durable=True)
    await queue.bind(exchange, "#")
    pool = await asyncpg.create_pool(PG_DSN, min_size=args.writers + 2, max_size=args.writers + 2)
    await pool.execute(tables.schema_sql())
    broker = HareBroker(AMQP_URL, settings=HareSettings(), logger=None)
    outbox = Outbox(
        broker, pool=pool, table=tables.outbox, inbox_table=tables.inbox, batch_size=args.batch
    )
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    await pool.execute("CREATE TABLE IF NOT EXISTS bench_outbox_orders (id int)")
    try:
        await broker.start()
        rates: dict[str, list[float]] = {
            "publish_message": [],
            "relay": [],
            "tx+pm": [],
            "tx+ob": [],
        }
        for _ in range(args.rounds):
            rates["publish_message"].append(
                await run_publish_message(broker, exchange_name, args.messages, args.writers)
            )
            rates["relay"].append(
                await run_relay(pool, outbox, exchange_name, args.messages, args.keys)
            )
            direct, through_outbox = await run_app_path(
                pool, broker, outbox, exchange_name, args.messages, args.writers, args.keys
            )
            rates["tx+pm"].append(direct)
            rates["tx+ob"].append(through_outbox)
            await queue.purge()
        best = {name: max(values) for name, values in rates.items()}
        print(
            f"{args.messages} events, {args.writers} writers, {args.keys} keys, "
            f"batch {args.batch}, best of {args.rounds}:"
        )
        print(f"  publish_message                    {best['publish_message']:>8,.0f} msgs/s")
        print(f"  outbox relay (committed backlog)   {best['relay']:>8,.0f} msgs/s")
        print(f"  relay/publish_message              {best['relay'] / best['publish_message']:.2f}")
        print(f"  tx + publish_message after commit  {best['tx+pm']:>8,.0f} msgs/s")
        print(f"  tx with outbox.add (to confirm)    {best['tx+ob']:>8,.0f} msgs/s")
        print(f"  outbox/direct on the app path      {best['tx+ob'] / best['tx+pm']:.2f}")
        lags = await latency(pool, outbox, exchange_name, queue, args.latency, args.gap_ms / 1000)
        print(
            f"commit→receive latency ({args.latency} events, one every {args.gap_ms} ms): "
            f"p50 {percentile(lags, 50) * 1000:.1f} ms, p99 {percentile(lags, 99) * 1000:.1f} ms, "
            f"max {max(lags) * 1000:.1f} ms, mean {statistics.mean(lags) * 1000:.1f} ms"
        )
    finally:
        await broker.stop()
        await pool.execute(
            f"DROP TABLE IF EXISTS {tables.outbox}, {tables.inbox}, bench_outbox_orders; "
            f"DROP FUNCTION IF EXISTS {tables.outbox}_notify()"
        )
        await pool.close()
        await queue.delete(if_unused=False, if_empty=False)
        await exchange.delete()
        await connection.close()
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--keys", type=int, default=100)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=int, default=500)
    parser.add_argument("--gap-ms", type=float, default=5.0)
    asyncio.run(main(parser.parse_args()))
