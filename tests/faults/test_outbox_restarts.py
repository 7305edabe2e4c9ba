"""The outbox relay while RabbitMQ or PostgreSQL restarts, with an exact account of order ids.

Each restart happens to a server of this module's own — a RabbitMQ node with its own name,
ports and data directory (``tests/support/private_rabbit.py``), a PostgreSQL server in a
temporary directory (``tests/support/private_postgres.py``) — never to the shared ones other
tests use. The account: every committed order's event published at least once (lost must be 0),
nothing rolled back published, per-key order kept, duplicates (same message_id) counted and
printed with the time the relay took to publish again: ``[fault] … lost=0 duplicates=…``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import aio_pika
import pytest

from faststream_hare import HareBroker, HareSettings
from faststream_hare.outbox import Outbox
from tests.support.broker import VERSION_CHOICE
from tests.support.fault_proxy import FaultProxy
from tests.support.outbox_orders import Accounting, account, collect
from tests.support.outbox_shop import Shop, open_shop
from tests.support.pools import running
from tests.support.postgres import PG_DSN, rows_waiting
from tests.support.private_postgres import PrivatePostgres
from tests.support.private_rabbit import PrivateRabbit
from tests.support.rabbit_admin import AMQP_URL

pytestmark = [pytest.mark.rabbit, pytest.mark.timeout(180)]

#: The two brokers' runs may overlap (two checkouts): each has its own ports.
PORT_BASE = 26500 if VERSION_CHOICE == "4.0" else 26000  # below the ephemeral ports

ORDERS = 4_000
COMMITTED = ORDERS - ORDERS // 10


@pytest.fixture(scope="module")
def private_rabbit() -> Iterator[PrivateRabbit]:
    node = PrivateRabbit("hareob", PORT_BASE)
    try:
        boot_s = node.start()
        print(f"[fault] private node {node.node} on :{node.amqp_port} booted in {boot_s:.1f} s")
        yield node
    finally:
        node.close()


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres(PORT_BASE + 200)
    try:
        server.start()
        yield server
    finally:
        server.close()


async def until(condition: Callable[[], bool], timeout: float) -> float:
    """Wait for ``condition`` (polled every 10 ms); the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            msg = f"not reached in {timeout} s"
            raise TimeoutError(msg)
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def drain_all(amqp_url: str, queue_name: str) -> list[bytes]:
    """Every message in the queue now, in queue order (nothing publishes to it any more)."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, passive=True)
        count = queue.declaration_result.message_count
        bodies: list[bytes] = []
        async with queue.iterator() as messages:
            async for message in messages:
                await message.ack()
                bodies.append(message.body)
                if len(bodies) == count:
                    break
        return bodies
    finally:
        await connection.close()


def settle(what: str, shop: Shop, bodies: list[bytes], **figures: Any) -> Accounting:
    result = account(shop.written, bodies)
    shown = " ".join(
        f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()
    )
    print(
        f"[fault] {what}: committed={len(shop.written.committed)} received={len(bodies)} "
        f"lost={len(result.lost)} duplicates={result.duplicates} "
        f"phantoms={len(result.phantoms)} order_breaks={len(result.order_breaks)} {shown}"
    )
    assert result.lost == []
    assert result.phantoms == []
    assert result.order_breaks == []
    return result


async def test_rabbitmq_restarted_under_a_stream_of_commits_loses_nothing(
    prefix: str, private_rabbit: PrivateRabbit
) -> None:
    """Orders are committed all along; the relay publishes them to the private node, whose
    RabbitMQ application is stopped and started again (every connection closed, queues
    recovered from disk) in the middle of it."""
    url = private_rabbit.url
    async with (
        open_shop(prefix, url, PG_DSN) as shop,
        FaultProxy(target_port=private_rabbit.amqp_port) as proxy,
    ):
        # the relay's link slowed through a proxy: a batch is in flight most of the time, so
        # the stop lands in one (and the node's restart closes the link through the proxy)
        proxy.slow(0.02)
        broker = HareBroker(
            proxy.url(), settings=HareSettings(reconnect_interval_ms=200), logger=None
        )
        outbox = Outbox(broker, dsn=PG_DSN, table=shop.tables.outbox, batch_size=200)
        writing_stops = asyncio.Event()

        async def stream_of_commits() -> None:
            first = 0
            while not writing_stops.is_set():
                await shop.write(200, workers=10, first=first)
                first += 200

        async with running(broker):
            writer = asyncio.create_task(stream_of_commits())
            try:
                await until(lambda: outbox.relayed >= 500, 60)
                down_at = time.monotonic()
                await asyncio.to_thread(private_rabbit.ctl, "stop_app")
                stopped_at = time.monotonic()
                await asyncio.sleep(1.0)  # commits go on; the relay finds no RabbitMQ
                await asyncio.to_thread(private_rabbit.ctl, "start_app")
                back_at = time.monotonic()
                relayed_before = outbox.relayed
                recovery_s = await until(lambda: outbox.relayed > relayed_before, 60)
                await asyncio.sleep(1.0)  # and the stream goes on after the restart
            finally:
                writing_stops.set()
                await writer
            await until_drained(shop)
            republished = outbox.republished
        bodies = await drain_all(url, shop.queue_name)
    result = settle(
        "RabbitMQ restarted (stop_app/start_app)",
        shop,
        bodies,
        republished=republished,
        stop_s=stopped_at - down_at,
        down_s=back_at - down_at,
        recovery_s=recovery_s,
        outage_s=back_at + recovery_s - down_at,
    )
    assert result.duplicates <= republished  # only rows that may have been published before


async def until_drained(shop: Shop) -> None:
    deadline = time.monotonic() + 60
    while await rows_waiting(shop.tables, shop.dsn):
        assert time.monotonic() < deadline, "the relay did not publish every row in 60 s"
        await asyncio.sleep(0.05)


async def received_at_least(queue: Any, count: int) -> list[bytes]:
    got: list[bytes] = []
    async with queue.iterator() as messages:
        async for message in messages:
            await message.ack()
            got.append(message.body)
            if len(got) >= count:
                break
    return got


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_postgresql_restarted_under_the_relay_loses_nothing(
    prefix: str, private_postgres: PrivatePostgres, fault_proxy: FaultProxy, mode: str
) -> None:
    """A committed backlog on the private server, restarted (``pg_ctl restart -m fast``) while
    the relay publishes it: its sessions die, its keys' locks go with them, and the rows it
    published but had not deleted are published again (counted). ``immediate`` crashes it:
    the relay's deletes commit without a flush and may be undone, and the rows they deleted
    are published again — still counted, because each try was flushed before its publish."""
    dsn = private_postgres.dsn
    async with open_shop(prefix, AMQP_URL, dsn) as shop:
        await shop.write(ORDERS)
        assert len(shop.written.committed) == COMMITTED
        # slowed through a proxy (the relay would publish the backlog in a second or two), so
        # the restart lands while most of it is still to publish
        fault_proxy.slow(0.05)
        broker = HareBroker(
            fault_proxy.url(), settings=HareSettings(reconnect_interval_ms=200), logger=None
        )
        outbox = Outbox(broker, dsn=dsn, table=shop.tables.outbox, batch_size=100)
        async with running(broker):
            bodies = await asyncio.wait_for(received_at_least(shop.queue, 500), 60)
            await asyncio.to_thread(private_postgres.restart, mode)
            back_at = time.monotonic()
            waiting = await rows_waiting(shop.tables, dsn)
            relayed_before = outbox.relayed
            recovery_s = await until(lambda: outbox.relayed > relayed_before, 60)
            bodies += await collect(shop.queue, until=COMMITTED, timeout=120, seen=bodies)
            await asyncio.sleep(0.5)
            republished = outbox.republished
            assert time.monotonic() - back_at < 120
        assert await rows_waiting(shop.tables, dsn) == 0
    result = settle(
        f"PostgreSQL restarted (pg_ctl restart -m {mode})",
        shop,
        bodies,
        waiting_at_restart=waiting,
        republished=republished,
        recovery_s=recovery_s,
    )
    assert waiting > 0  # the restart landed while rows were still to publish
    assert result.duplicates <= republished
