"""The real PostgreSQL for outbox tests: a DSN, throwaway outbox tables, exact row counts."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from faststream_hare.outbox import OutboxTables

PG_DSN = os.environ.get("HARE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def fresh_tables() -> OutboxTables:
    """Table names no other test uses."""
    suffix = uuid.uuid4().hex[:10]
    return OutboxTables(outbox=f"hare_t_ob_{suffix}", inbox=f"hare_t_in_{suffix}")


@asynccontextmanager
async def schema(tables: OutboxTables, dsn: str = PG_DSN) -> AsyncIterator[None]:
    """The outbox schema for ``tables``, dropped after the block."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(tables.schema_sql())
    finally:
        await conn.close()
    try:
        yield
    finally:
        conn = await asyncpg.connect(dsn)  # a new one: a test may restart PostgreSQL
        try:
            name = tables.outbox.replace(".", "_")
            await conn.execute(
                f"DROP TABLE IF EXISTS {tables.outbox}, {tables.inbox}; "
                f"DROP FUNCTION IF EXISTS {name}_notify()"
            )
        finally:
            await conn.close()


async def rows_waiting(tables: OutboxTables, dsn: str = PG_DSN) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval(f"SELECT count(*) FROM {tables.outbox}")
        return count
    finally:
        await conn.close()
