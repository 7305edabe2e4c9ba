"""The outbox proof's workload: orders written by concurrent transactions, some rolled back,
and the accounting of what RabbitMQ delivered (exact ids, per-key commit order).

Each transaction adds the order's event to the outbox *first*, then bumps its customer's
counter (a row lock, so committed orders of one customer get the numbers 1, 2, 3… in commit
order) and records the order with that number, then commits or rolls back. Because the event
row is written before the counter is taken, a relay that published in id order without the
outbox's per-key commit ordering would deliver a customer's events out of counter order.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from faststream_hare.outbox import Outbox


@dataclass
class Written:
    committed: dict[str, tuple[str, int]] = field(default_factory=dict)  # id -> (customer, seq)
    rolled_back: set[str] = field(default_factory=set)


async def create_tables(conn: Any, name: str, customers: int) -> None:
    await conn.execute(
        f"CREATE TABLE {name}_customers (id text PRIMARY KEY, n integer NOT NULL DEFAULT 0);"
        f"CREATE TABLE {name}_orders (id text PRIMARY KEY, customer text, seq integer)"
    )
    await conn.executemany(
        f"INSERT INTO {name}_customers (id) VALUES ($1)", [(f"c{c}",) for c in range(customers)]
    )


async def drop_tables(conn: Any, name: str) -> None:
    await conn.execute(f"DROP TABLE IF EXISTS {name}_customers, {name}_orders")


async def write_orders(
    pool: Any,
    outbox: Outbox,
    name: str,
    *,
    exchange: str,
    orders: int,
    workers: int,
    customers: int,
    rollback_every: int = 10,
    seed: int = 26,
    first: int = 0,
) -> Written:
    """``orders`` orders (ids from ``order-{first}`` on) by ``workers`` concurrent
    transactions; every ``rollback_every``-th rolls back after writing everything."""
    written = Written()
    rng = random.Random(seed + first)
    plan = [(f"order-{first + n}", f"c{rng.randrange(customers)}") for n in range(orders)]
    pending = iter(enumerate(plan))

    async def worker() -> None:
        for n, (order_id, customer) in pending:
            roll_back = n % rollback_every == rollback_every - 1
            try:
                async with pool.acquire() as conn, conn.transaction():
                    await outbox.add(
                        conn,
                        {"order_id": order_id, "customer": customer},
                        exchange=exchange,
                        routing_key="order.created",
                        message_id=order_id,
                        key=customer,
                    )
                    await asyncio.sleep(rng.random() / 1000)
                    seq = await conn.fetchval(
                        f"UPDATE {name}_customers SET n = n + 1 WHERE id = $1 RETURNING n",
                        customer,
                    )
                    await conn.execute(
                        f"INSERT INTO {name}_orders VALUES ($1, $2, $3)", order_id, customer, seq
                    )
                    if roll_back:
                        raise _RollBack
            except _RollBack:
                written.rolled_back.add(order_id)
                continue
            written.committed[order_id] = (customer, seq)

    await asyncio.gather(*(worker() for _ in range(workers)))
    return written


class _RollBack(Exception):
    pass


@dataclass
class Accounting:
    lost: list[str]
    duplicates: int
    phantoms: list[str]
    order_breaks: list[str]

    def report(self, what: str, received: int) -> str:
        return (
            f"{what}: received {received}, lost {len(self.lost)}, duplicates {self.duplicates}, "
            f"rolled back but published {len(self.phantoms)}, per-key order breaks "
            f"{len(self.order_breaks)}"
        )


def account(written: Written, bodies: list[bytes]) -> Accounting:
    """Lost/duplicate/phantom ids, and whether each customer's first deliveries come in
    commit order (a duplicate repeats an earlier event; only first sightings count)."""
    seen: set[str] = set()
    duplicates = 0
    by_customer: dict[str, list[int]] = defaultdict(list)
    phantoms = []
    for body in bodies:
        order_id = json.loads(body)["order_id"]
        if order_id in seen:
            duplicates += 1
            continue
        seen.add(order_id)
        if order_id not in written.committed:
            phantoms.append(order_id)
            continue
        customer, seq = written.committed[order_id]
        by_customer[customer].append(seq)
    breaks = [
        customer for customer, seqs in by_customer.items() if seqs != list(range(1, len(seqs) + 1))
    ]
    lost = sorted(set(written.committed) - seen)
    return Accounting(lost, duplicates, phantoms, breaks)


async def collect(
    queue: Any, until: int, timeout: float, seen: Sequence[bytes] = ()
) -> list[bytes]:
    """Bodies in arrival order until ``until`` distinct ids arrived, counting the ids of
    ``seen`` already (or the timeout)."""
    bodies: list[bytes] = []
    ids: set[str] = {json.loads(body)["order_id"] for body in seen}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with queue.iterator() as messages:
        while len(ids) < until and loop.time() < deadline:
            try:
                message = await asyncio.wait_for(messages.__anext__(), deadline - loop.time())
            except asyncio.TimeoutError:
                break
            await message.ack()
            bodies.append(message.body)
            ids.add(json.loads(message.body)["order_id"])
    return bodies
