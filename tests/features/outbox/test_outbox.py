"""The outbox against the real PostgreSQL and RabbitMQ: a message is published if and only if
its transaction commits; the relay keeps commit order per key and never drops a row."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from faststream_hare import HareBroker, HareSettings, signals
from faststream_hare.errors import EncodingFailedError, HareConfigError
from faststream_hare.outbox import Outbox, OutboxTables
from faststream_hare.telemetry.prometheus import HareMetrics
from tests.support.pools import running
from tests.support.postgres import PG_DSN, fresh_tables, rows_waiting, schema
from tests.support.rabbit_admin import AMQP_URL
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit
ROOT = Path(__file__).resolve().parents[3]


def make_broker(prefix: str) -> HareBroker:
    return HareBroker(
        f"{AMQP_URL.rstrip('/')}/?name={prefix}",
        settings=HareSettings(reconnect_interval_ms=200),
        logger=None,
    )


@pytest.fixture
async def tables() -> AsyncIterator[OutboxTables]:
    tables = fresh_tables()
    async with schema(tables):
        yield tables


@pytest.fixture
async def pool() -> AsyncIterator[Any]:
    pool = await asyncpg.create_pool(PG_DSN, min_size=1, max_size=22)
    yield pool
    await pool.close()


async def bound_queue(
    channel: aio_pika.abc.AbstractChannel, prefix: str, routing_key: str = "#"
) -> aio_pika.abc.AbstractQueue:
    exchange = await channel.declare_exchange(f"{prefix}.ex", "topic", durable=True)
    queue = await channel.declare_queue(f"{prefix}.q", durable=True)
    await queue.bind(exchange, routing_key)
    return queue


async def receive(
    queue: aio_pika.abc.AbstractQueue, count: int, timeout: float = 30.0
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Exactly ``count`` messages (then a short wait proves there is no extra one)."""
    got: list[aio_pika.abc.AbstractIncomingMessage] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while len(got) < count:
        message = await queue.get(no_ack=True, fail=False)
        if message is None:
            assert asyncio.get_running_loop().time() < deadline, f"{len(got)} of {count}"
            await asyncio.sleep(0.02)
            continue
        got.append(message)
    await asyncio.sleep(0.3)
    assert await queue.get(no_ack=True, fail=False) is None, "an extra message arrived"
    return got


async def test_a_committed_message_is_published_and_a_rolled_back_one_never(
    prefix: str, channel: aio_pika.abc.AbstractChannel, tables: OutboxTables, pool: Any
) -> None:
    broker = make_broker(prefix)
    outbox = Outbox(broker, pool=pool, table=tables.outbox, inbox_table=tables.inbox)
    queue = await bound_queue(channel, prefix)
    async with running(broker):
        async with pool.acquire() as conn, conn.transaction():
            await outbox.add(
                conn,
                {"order_id": 7},
                exchange=f"{prefix}.ex",
                routing_key="order.created",
                message_id="order-7",
                key="customer-42",
                headers={"source": "shop"},
            )
        async with pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            await outbox.add(
                conn, {"order_id": 8}, exchange=f"{prefix}.ex", routing_key="order.created"
            )
            await tx.rollback()
        [message] = await receive(queue, 1)
        assert await rows_waiting(tables) == 0
    assert message.body == b'{"order_id":7}'
    assert message.message_id == "order-7"
    assert message.content_type == "application/json"
    assert message.headers == {"source": "shop"}
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT


async def test_nothing_is_published_before_the_commit(
    prefix: str, channel: aio_pika.abc.AbstractChannel, tables: OutboxTables, pool: Any
) -> None:
    broker = make_broker(prefix)
    outbox = Outbox(broker, pool=pool, table=tables.outbox, inbox_table=tables.inbox)
    queue = await bound_queue(channel, prefix)
    async with running(broker):
        async with pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, b"raw", exchange=f"{prefix}.ex", routing_key="r")
            await asyncio.sleep(1.5)  # longer than the relay's poll interval
            assert await queue.get(no_ack=True, fail=False) is None
        [message] = await receive(queue, 1)
    assert message.body == b"raw"
    assert message.content_type is None


async def test_bad_input_fails_at_add_and_the_transaction_can_still_commit(
    prefix: str, tables: OutboxTables, pool: Any
) -> None:
    broker = make_broker(prefix)
    outbox = Outbox(broker, pool=pool, table=tables.outbox, inbox_table=tables.inbox)
    async with pool.acquire() as conn:
        async with conn.transaction():
            with pytest.raises(EncodingFailedError, match="JSON"):
                await outbox.add(conn, {"when": object()}, routing_key="r")
            with pytest.raises(EncodingFailedError, match="cannot publish a int"):
                await outbox.add(conn, 5, routing_key="r")
            with pytest.raises(EncodingFailedError, match="headers"):
                await outbox.add(conn, {}, routing_key="r", headers={"at": object()})
        with pytest.raises(HareConfigError, match="inside a transaction"):
            await outbox.add(conn, {}, routing_key="r")
    with pytest.raises(HareConfigError, match="asyncpg connection or a SQLAlchemy"):
        await outbox.add(object(), {}, routing_key="r")
    assert await rows_waiting(tables) == 0


def test_wrong_options_fail_at_construction(prefix: str) -> None:
    broker = make_broker(prefix)
    with pytest.raises(HareConfigError, match="exactly one of dsn="):
        Outbox(broker)
    with pytest.raises(HareConfigError, match="exactly one of dsn="):
        Outbox(broker, dsn=PG_DSN, pool=object())
    with pytest.raises(HareConfigError, match="table must be a lower-case table name"):
        Outbox(broker, dsn=PG_DSN, table="orders; drop table x")
    with pytest.raises(HareConfigError, match="batch_size"):
        Outbox(broker, dsn=PG_DSN, batch_size=0)
    with pytest.raises(HareConfigError, match="needs a HareBroker"):
        Outbox(object(), dsn=PG_DSN)  # type: ignore[arg-type]


async def test_a_sqlalchemy_session_writes_in_its_transaction(
    prefix: str, channel: aio_pika.abc.AbstractChannel, tables: OutboxTables
) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    engine = create_async_engine(PG_DSN.replace("postgresql://", "postgresql+asyncpg://"))
    sessions = async_sessionmaker(engine)
    broker = make_broker(prefix)
    outbox = Outbox(broker, engine=engine, table=tables.outbox, inbox_table=tables.inbox)
    queue = await bound_queue(channel, prefix)
    try:
        async with running(broker):
            async with sessions() as session, session.begin():
                await outbox.add(session, {"n": 1}, exchange=f"{prefix}.ex", routing_key="a")
            async with sessions() as session:
                await outbox.add(session, {"n": 2}, exchange=f"{prefix}.ex", routing_key="a")
                await session.rollback()
            [message] = await receive(queue, 1)
    finally:
        await engine.dispose()
    assert message.body == b'{"n":1}'


async def test_a_missing_exchange_is_retried_with_back_off_and_reported_never_dropped(
    prefix: str, channel: aio_pika.abc.AbstractChannel, tables: OutboxTables, pool: Any
) -> None:
    failed: list[dict[str, Any]] = []

    def on_failed(sender: Any, measurements: Any, metadata: dict[str, Any]) -> None:
        failed.append({**metadata, **measurements})

    signals.outbox_message_failed.connect(on_failed)
    broker = make_broker(prefix)
    registry = CollectorRegistry()
    metrics = HareMetrics(registry, broker=broker)
    outbox = Outbox(broker, pool=pool, table=tables.outbox, inbox_table=tables.inbox)
    try:
        async with running(broker):
            async with pool.acquire() as conn, conn.transaction():
                for n in range(3):
                    await outbox.add(
                        conn, {"n": n}, exchange=f"{prefix}.ex", routing_key="a", key="k"
                    )
            labels = {"table": tables.outbox}

            def gauge(name: str) -> float:
                return registry.get_sample_value(name, labels) or 0.0

            deadline = asyncio.get_running_loop().time() + 10
            while len(failed) < 3 or gauge("hare_outbox_waiting") < 3:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.05)
            assert await rows_waiting(tables) == 3
            # nothing is published, yet the gauges say what waits and grow with its age
            stuck_age = gauge("hare_outbox_oldest_age_seconds")
            assert stuck_age > 0
            await eventually(lambda: gauge("hare_outbox_oldest_age_seconds") > stuck_age)
            queue = await bound_queue(channel, prefix)
            messages = await receive(queue, 3)
            backlog = await outbox.backlog()
            # idle again: the relay reads the backlog, nothing waits and it is behind by 0
            await eventually(lambda: gauge("hare_outbox_waiting") == 0)
            await eventually(lambda: gauge("hare_outbox_oldest_age_seconds") == 0)
            await eventually(lambda: gauge("hare_outbox_lag_seconds") == 0)
            samples = {
                name: registry.get_sample_value(name, {**labels, **extra})
                for name, extra in (
                    ("hare_outbox_relayed_total", {}),
                    ("hare_outbox_republished_total", {}),
                    ("hare_outbox_failed_total", {"reason": "refused"}),
                )
            }
    finally:
        signals.outbox_message_failed.disconnect(on_failed)
        metrics.close()
    # one failure per try of the key's first row; the others waited behind it (order kept)
    assert [m.body for m in messages] == [b'{"n":0}', b'{"n":1}', b'{"n":2}']
    assert {f["reason"] for f in failed} == {"refused"}
    assert "does not exist" in failed[0]["error"]
    delays = [f["retry_in_s"] for f in failed[:3]]
    assert delays == sorted(delays)
    assert delays[0] < delays[2]
    assert backlog.waiting == 0
    assert samples["hare_outbox_relayed_total"] == 3
    assert samples["hare_outbox_republished_total"] == 0
    assert samples["hare_outbox_failed_total"] == len(failed)


def _hare(*args: str, tables: OutboxTables) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OUTBOX_TABLE": tables.outbox, "OUTBOX_INBOX": tables.inbox}
    return subprocess.run(
        [sys.executable, "-m", "faststream_hare.ops.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,  # a loaded machine starts Python slowly
    )


@pytest.mark.timeout(600)
async def test_hare_outbox_init_makes_the_schema_and_hare_status_shows_the_backlog(
    prefix: str,
) -> None:
    tables = fresh_tables()
    app = "tests.support.outbox_app:app"
    missing = await asyncio.to_thread(_hare, "status", app, "--json", tables=tables)
    assert missing.returncode == 0, missing.stderr
    [unread] = [e["outbox"] for e in json.loads(missing.stdout) if "outbox" in e]
    assert "hare outbox init" in unread["problem"]
    printed = await asyncio.to_thread(_hare, "outbox", "init", app, "--print", tables=tables)
    assert f"CREATE TABLE IF NOT EXISTS {tables.outbox}" in printed.stdout
    async with schema(tables):  # drops what init made, after the test
        made = await asyncio.to_thread(_hare, "outbox", "init", app, tables=tables)
        assert made.returncode == 0, made.stderr
        again = await asyncio.to_thread(_hare, "outbox", "init", app, tables=tables)
        assert again.returncode == 0, again.stderr  # safe to repeat
        outbox = Outbox(make_broker(prefix), dsn=PG_DSN, table=tables.outbox, relay=False)
        conn = await asyncpg.connect(PG_DSN)
        try:
            async with conn.transaction():
                await outbox.add(conn, {"n": 1}, exchange="nowhere", routing_key="r", key="k")
        finally:
            await conn.close()
        status = await asyncio.to_thread(_hare, "status", app, "--json", tables=tables)
        assert status.returncode == 0, status.stderr
        [entry] = [e["outbox"] for e in json.loads(status.stdout) if "outbox" in e]
        table = await asyncio.to_thread(_hare, "status", app, tables=tables)
    assert entry["table"] == tables.outbox
    assert entry["waiting"] == 1
    assert entry["oldest_age_s"] >= 0
    assert entry["problem"] is None
    assert "hare outboxes" in table.stdout
    assert tables.outbox in table.stdout


async def test_a_relay_without_its_table_says_how_to_create_it(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    broker = make_broker(prefix)
    Outbox(broker, dsn=PG_DSN, table=fresh_tables().outbox)
    async with running(broker):
        deadline = asyncio.get_running_loop().time() + 10
        while "hare outbox init" not in caplog.text:
            assert asyncio.get_running_loop().time() < deadline, caplog.text
            await asyncio.sleep(0.05)


async def test_the_console_overview_shows_the_outbox_backlog(
    prefix: str, tables: OutboxTables
) -> None:
    import httpx

    from faststream_hare.ops.console import create_app

    broker = make_broker(prefix)
    outbox = Outbox(broker, dsn=PG_DSN, table=tables.outbox, relay=False)
    conn = await asyncpg.connect(PG_DSN)
    try:
        async with conn.transaction():
            for n in range(2):
                await outbox.add(conn, {"n": n}, exchange="nowhere", routing_key="r", key="k")
    finally:
        await conn.close()
    transport = httpx.ASGITransport(app=create_app(broker, auth="app"))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        page = await client.get("/")
    assert page.status_code == 200
    assert f'data-outbox="{tables.outbox}" data-waiting="2"' in page.text


async def _commit_one(outbox: Outbox, pool: Any, exchange: str, message_id: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await outbox.add(
            conn, {"id": message_id}, exchange=exchange, routing_key="r", message_id=message_id
        )


async def test_a_commit_wakes_the_relay_through_listen_notify_long_before_its_poll(
    prefix: str, channel: aio_pika.abc.AbstractChannel, tables: OutboxTables, pool: Any
) -> None:
    broker = make_broker(prefix)
    outbox = Outbox(
        broker, pool=pool, table=tables.outbox, inbox_table=tables.inbox, poll_interval_ms=60_000
    )
    queue = await bound_queue(channel, prefix)
    async with running(broker):
        # the first row may go out in the relay's first batch at start; once it arrived the
        # relay is listening and idle, with its next poll a minute away
        await _commit_one(outbox, pool, f"{prefix}.ex", "first")
        [first] = await receive(queue, 1, timeout=30)
        await asyncio.sleep(0.5)
        await _commit_one(outbox, pool, f"{prefix}.ex", "woken")
        [woken] = await receive(queue, 1, timeout=5)  # only a notification can be this early
    assert (first.message_id, woken.message_id) == ("first", "woken")
    assert await rows_waiting(tables) == 0


async def test_without_notifications_rows_still_arrive_by_polling(
    prefix: str, channel: aio_pika.abc.AbstractChannel, tables: OutboxTables, pool: Any
) -> None:
    async with pool.acquire() as conn:  # this test's own table: no NOTIFY on commit any more
        name = tables.outbox.replace(".", "_")
        await conn.execute(f"DROP TRIGGER {name}_notify ON {tables.outbox}")
    broker = make_broker(prefix)
    outbox = Outbox(
        broker, pool=pool, table=tables.outbox, inbox_table=tables.inbox, poll_interval_ms=200
    )
    queue = await bound_queue(channel, prefix)
    async with running(broker):
        await asyncio.sleep(0.5)  # the relay is idle, waiting for a notification or its poll
        ids = [f"polled-{n}" for n in range(5)]
        for message_id in ids:
            await _commit_one(outbox, pool, f"{prefix}.ex", message_id)
        messages = await receive(queue, len(ids), timeout=30)
    assert sorted(m.message_id or "" for m in messages) == ids
    assert await rows_waiting(tables) == 0
