"""``outbox.add``'s write: one INSERT in the app's own transaction (asyncpg or SQLAlchemy).

Commit order per key: a row with a key first takes a transaction-scoped advisory lock on that
key and only then its id from the sequence, in the same statement. Two transactions writing
the same key are therefore serialised from their first ``add`` of that key to their commit,
so within a key the id order *is* the commit order, and a relay that sees a row of a key has
already seen every earlier row of it (a sequence value taken by a transaction that commits
later than a higher one cannot happen within a key). Rows without a key take no lock and keep
no order.
"""

from __future__ import annotations

from typing import Any

from faststream_hare.errors import HareConfigError
from faststream_hare.outbox.record import OutboxRecord
from faststream_hare.outbox.tables import OutboxTables

_COLUMNS = "key, exchange, routing_key, message_id, content_type, headers, body"


def insert_sql(tables: OutboxTables, *, keyed: bool) -> str:
    """The INSERT (``$1``…``$7`` as ``_COLUMNS``); keyed: lock the key, then take the id."""
    values = ", ".join(
        f"CAST(${n} AS {kind})"
        for n, kind in enumerate(("text", "text", "text", "text", "text", "jsonb", "bytea"), 1)
    )
    if not keyed:
        return f"INSERT INTO {tables.outbox} ({_COLUMNS}) VALUES ({values})"
    return (
        f"WITH locked AS MATERIALIZED "
        f"(SELECT pg_advisory_xact_lock({tables.writer_lock}, hashtext(CAST($1 AS text)))) "
        f"INSERT INTO {tables.outbox} ({_COLUMNS}) SELECT {values} FROM locked"
    )


def _params(record: OutboxRecord) -> tuple[Any, ...]:
    return (
        record.key,
        record.exchange,
        record.routing_key,
        record.message_id,
        record.content_type,
        record.headers,
        record.body,
    )


async def write(tx: Any, tables: OutboxTables, record: OutboxRecord) -> None:
    """Insert ``record`` through ``tx``: an asyncpg connection in a transaction, or a
    SQLAlchemy ``AsyncSession``/``AsyncConnection``."""
    sql = insert_sql(tables, keyed=record.key is not None)
    if hasattr(tx, "is_in_transaction") and hasattr(tx, "fetchval"):  # asyncpg (or a proxy)
        if not tx.is_in_transaction():
            msg = (
                "outbox.add needs the connection inside a transaction "
                "(async with conn.transaction(): ...); outside one the message would not "
                "commit or roll back with anything."
            )
            raise HareConfigError(msg)
        await tx.execute(sql, *_params(record))
        return
    if _is_sqlalchemy(tx):
        await _write_sqlalchemy(tx, sql, record)
        return
    msg = (
        f"outbox.add takes the transaction's asyncpg connection or a SQLAlchemy "
        f"AsyncSession/AsyncConnection, got a {type(tx).__name__}."
    )
    raise HareConfigError(msg)


def _is_sqlalchemy(tx: object) -> bool:
    try:
        from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
    except ImportError:  # pragma: no cover - the outbox extra installs it
        return False
    return isinstance(tx, AsyncSession | AsyncConnection)


async def _write_sqlalchemy(tx: Any, sql: str, record: OutboxRecord) -> None:
    """The same statement through SQLAlchemy (``$n`` become bound parameters ``:pn``)."""
    from sqlalchemy import text

    for index in range(7, 0, -1):
        sql = sql.replace(f"${index}", f":p{index}")
    params = {f"p{index}": value for index, value in enumerate(_params(record), start=1)}
    await tx.execute(text(sql), params)
