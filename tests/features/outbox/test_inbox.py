"""The inbox on the real PostgreSQL and RabbitMQ: a redelivered message is skipped if and only
if the effects of its handler committed (they commit with the inbox's done mark)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import asyncpg
import pytest
from faststream.rabbit.annotations import RabbitMessage

from faststream_hare import HareBroker, HareSettings, Idempotency
from faststream_hare.dedup.store import Claim
from faststream_hare.errors import HareError
from faststream_hare.idempotency import Seen
from faststream_hare.outbox import OutboxTables, PostgresStore
from tests.support.fault_proxy import FaultProxy
from tests.support.pools import running
from tests.support.postgres import PG_DSN, fresh_tables, schema
from tests.support.rabbit_admin import AMQP_URL
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit


@pytest.fixture
async def tables() -> AsyncIterator[OutboxTables]:
    tables = fresh_tables()
    async with schema(tables):
        conn = await asyncpg.connect(PG_DSN)
        await conn.execute(f"CREATE TABLE {tables.inbox}_effects (message_id text, run int)")
        await conn.close()
        try:
            yield tables
        finally:
            conn = await asyncpg.connect(PG_DSN)
            await conn.execute(f"DROP TABLE {tables.inbox}_effects")
            await conn.close()


async def effects(tables: OutboxTables) -> list[tuple[str, int]]:
    conn = await asyncpg.connect(PG_DSN)
    try:
        rows = await conn.fetch(f"SELECT message_id, run FROM {tables.inbox}_effects")
    finally:
        await conn.close()
    return [(r["message_id"], r["run"]) for r in rows]


async def publish(queue: str, message_id: str) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await channel.default_exchange.publish(
            aio_pika.Message(b"{}", message_id=message_id), routing_key=queue
        )
    finally:
        await connection.close()


class CutAfterCommit(PostgresStore):
    """Commits the handler's transaction, then loses the AMQP link before the ack (a crash
    between commit and ack, as RabbitMQ sees it)."""

    def __init__(self, proxy: FaultProxy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.proxy = proxy
        self.cuts = 0

    async def mark_done(self, lease: Claim, period_ms: int) -> None:
        await super().mark_done(lease, period_ms)
        if self.cuts == 0:
            self.cuts += 1
            self.proxy.cut()


async def test_a_handler_that_committed_then_lost_its_ack_is_skipped_on_redelivery(
    prefix: str, tables: OutboxTables
) -> None:
    async with FaultProxy() as proxy:
        inbox = CutAfterCommit(proxy, dsn=PG_DSN, table=tables.inbox)
        broker = HareBroker(
            proxy.url(), settings=HareSettings(reconnect_interval_ms=200), logger=None
        )
        runs: list[str] = []
        skipped: list[str] = []

        @broker.subscriber(
            f"{prefix}.q",
            retry_limit=3,
            delay_in_ms=100,
            idempotent=Idempotency(86_400_000, store=inbox),
        )
        async def handle(body: dict[str, Any], message: RabbitMessage) -> None:
            runs.append(message.message_id or "")
            await inbox.connection().execute(
                f"INSERT INTO {tables.inbox}_effects VALUES ($1, $2)",
                message.message_id,
                len(runs),
            )

        from faststream_hare import signals

        def duplicate(sender: Any, measurements: Any, metadata: dict[str, Any]) -> None:
            skipped.append(metadata["message_id"])

        signals.consumer_message_duplicate.connect(duplicate)
        try:
            async with running(broker):
                await publish(f"{prefix}.q", "m-1")
                await eventually(lambda: skipped == ["m-1"], timeout=20)
        finally:
            signals.consumer_message_duplicate.disconnect(duplicate)
            await inbox.aclose()
    assert inbox.cuts == 1
    assert runs == ["m-1"]  # one effect
    assert await effects(tables) == [("m-1", 1)]  # one row


async def test_a_handler_that_fails_before_its_commit_runs_again_and_leaves_one_row(
    prefix: str, tables: OutboxTables
) -> None:
    inbox = PostgresStore(dsn=PG_DSN, table=tables.inbox)
    broker = HareBroker(
        f"{AMQP_URL.rstrip('/')}/?name={prefix}",
        settings=HareSettings(reconnect_interval_ms=200),
        logger=None,
    )
    runs: list[str] = []

    @broker.subscriber(
        f"{prefix}.q",
        retry_limit=3,
        delay_in_ms=100,
        idempotent=Idempotency(86_400_000, store=inbox),
    )
    async def handle(body: dict[str, Any], message: RabbitMessage) -> None:
        runs.append(message.message_id or "")
        await inbox.connection().execute(
            f"INSERT INTO {tables.inbox}_effects VALUES ($1, $2)", message.message_id, len(runs)
        )
        if len(runs) == 1:
            raise ConnectionError("the handler fails after its write, before the commit")

    try:
        async with running(broker):
            await publish(f"{prefix}.q", "m-2")
            await eventually(lambda: len(runs) == 2, timeout=20)
            await asyncio.sleep(0.5)  # a third run would happen now
            assert len(inbox) == 0
    finally:
        await inbox.aclose()
    assert runs == ["m-2", "m-2"]
    assert await effects(tables) == [("m-2", 2)]  # the first run's row rolled back


async def test_the_store_answers_done_and_busy_and_cleans_expired_rows(
    tables: OutboxTables,
) -> None:
    inbox = PostgresStore(dsn=PG_DSN, table=tables.inbox)
    other = PostgresStore(dsn=PG_DSN, table=tables.inbox)
    try:
        with pytest.raises(HareError, match="only available inside a handler"):
            inbox.connection()
        lease = await inbox.acquire("k", 60_000)
        assert isinstance(lease, Claim)
        assert await other.acquire("k", 60_000) is Seen.BUSY  # in progress elsewhere
        await inbox.mark_done(lease, 60_000)
        assert await other.acquire("k", 60_000) is Seen.DONE
        short = await inbox.acquire("short", 60_000)
        assert isinstance(short, Claim)
        await inbox.mark_done(short, 1)  # expires at once
        await asyncio.sleep(0.01)
        assert await inbox.clean() == 1
        again = await other.acquire("short", 60_000)
        assert isinstance(again, Claim)
        await other.release(again)
    finally:
        await inbox.aclose()
        await other.aclose()


async def test_an_immediate_retry_starts_from_a_clean_transaction(
    prefix: str, tables: OutboxTables
) -> None:
    inbox = PostgresStore(dsn=PG_DSN, table=tables.inbox)
    broker = HareBroker(f"{AMQP_URL.rstrip('/')}/?name={prefix}", logger=None)
    runs: list[int] = []

    @broker.subscriber(
        f"{prefix}.q",
        retry_limit=0,
        immediate_retries=2,
        idempotent=Idempotency(86_400_000, store=inbox),
    )
    async def handle(body: dict[str, Any], message: RabbitMessage) -> None:
        runs.append(len(runs) + 1)
        await inbox.connection().execute(
            f"INSERT INTO {tables.inbox}_effects VALUES ($1, $2)", message.message_id, len(runs)
        )
        if len(runs) < 3:
            raise ConnectionError("fails twice after writing, then succeeds")

    try:
        async with running(broker):
            await publish(f"{prefix}.q", "m-3")
            await eventually(lambda: len(runs) == 3, timeout=20)
            await eventually(lambda: len(inbox) == 0, timeout=5)
    finally:
        await inbox.aclose()
    assert await effects(tables) == [("m-3", 3)]  # only the run that succeeded committed
