"""The relay's side of the table: which rows a relay may publish now, and what it did with them.

Several relays share one table without publishing a row twice and without breaking the order
of a key. A relay *owns a key* while it holds a session advisory lock on it (``relay_lock``,
``hashtext(key)``; a row without a key is owned through ``row_lock`` and its id):

1. ``lock_work`` looks at the oldest due rows and try-locks their keys, oldest first, until
   the keys it got cover a batch; keys another relay holds are skipped
   (``pg_try_advisory_lock`` never waits), so relays share the keys instead of one taking all.
2. ``take`` — a new statement, so its snapshot is taken *after* the locks were granted and sees
   everything the previous owner committed — reads up to a batch of the owned keys' rows in id
   order and counts a try on each (committed, and flushed to disk, before anything is
   published: a relay killed after publishing, or PostgreSQL crashing, leaves that count
   behind, which is how a republish is recognised). A key
   whose oldest row is backing off after a failure yields nothing, so no later row of it
   overtakes the failed one.
3. The rows are published; ``finish`` deletes the confirmed ones and records failures (with
   their back-off) in one transaction; only then ``unlock`` lets another relay own the keys.

A relay that dies loses its session, so PostgreSQL drops its locks at once and another relay
owns the keys: rows published but not yet deleted are published again with their message_id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from faststream_hare.outbox.tables import OutboxTables

#: How many of the oldest due rows a relay looks at to pick keys (bounded work per batch).
CANDIDATES = 2000


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A row taken for publishing."""

    id: int
    key: str | None
    exchange: str
    routing_key: str
    message_id: str
    content_type: str | None
    headers: dict[str, Any] | None
    body: bytes
    #: Tries so far, this one included.
    tries: int
    #: Earlier tries RabbitMQ returned or nacked (certainly not stored).
    refused: int
    #: Earlier tries that failed in any way (sets the back-off).
    failures: int
    #: Seconds between the row's insert and the moment it was taken.
    age_s: float

    @property
    def maybe_published_before(self) -> bool:
        """An earlier try may have reached RabbitMQ (its outcome is unknown): publishing it
        now may be a duplicate, with the same message_id."""
        return self.tries - 1 > self.refused


@dataclass(frozen=True, slots=True)
class Failure:
    """A row that was not confirmed, and when its key may be tried again."""

    row: OutboxRow
    #: RabbitMQ returned or nacked it (certainly not stored).
    refused: bool
    error: str
    retry_in_s: float


class RelayQueries:
    """The SQL of one outbox table's relay (built once)."""

    def __init__(self, tables: OutboxTables, batch_size: int) -> None:
        table = tables.outbox
        self.batch_size = batch_size
        # keys in the order of their oldest candidate row, try-locked one at a time (a
        # recursive walk) until the keys this relay got cover a batch: the rest stay free
        # for the other relays. OFFSET 0 keeps the lock call from being inlined (and run twice).
        self._lock_work = (
            f"WITH RECURSIVE candidates AS MATERIALIZED (SELECT id, key FROM {table} "
            f"WHERE due_at <= now() ORDER BY id LIMIT {CANDIDATES}), "
            f"keys AS MATERIALIZED (SELECT key, count(*) AS n, "
            f"row_number() OVER (ORDER BY min(id)) AS rn "
            f"FROM candidates WHERE key IS NOT NULL GROUP BY key), "
            f"walk(rn, key, got, taken) AS (SELECT 0::bigint, NULL::text, false, 0::bigint "
            f"UNION ALL SELECT k.rn, k.key, l.got, w.taken + CASE WHEN l.got THEN k.n ELSE 0 END "
            f"FROM walk w JOIN keys k ON k.rn = w.rn + 1 CROSS JOIN LATERAL "
            f"(SELECT pg_try_advisory_lock({tables.relay_lock}, hashtext(k.key)) AS got "
            f"OFFSET 0) l WHERE w.taken < {batch_size}) "
            f"SELECT key, NULL::bigint AS id FROM walk WHERE got "
            f"UNION ALL SELECT NULL, id FROM (SELECT id FROM candidates WHERE key IS NULL "
            f"ORDER BY id LIMIT {batch_size}) AS keyless "
            f"WHERE pg_try_advisory_lock({tables.row_lock}, (id % 2147483647)::int4)"
        )
        self._take = (
            f"WITH picked AS (SELECT o.id FROM {table} o "
            f"WHERE (o.key = ANY($1::text[]) OR o.id = ANY($2::bigint[])) "
            f"AND (o.key IS NOT NULL OR o.due_at <= now()) "
            f"AND NOT EXISTS (SELECT 1 FROM {table} p "
            f"WHERE p.key = o.key AND p.id <= o.id AND p.due_at > now()) "
            f"ORDER BY o.id LIMIT {batch_size}) "
            f"UPDATE {table} t SET tries = t.tries + 1 FROM picked WHERE t.id = picked.id "
            f"RETURNING t.id, t.key, t.exchange, t.routing_key, t.message_id, t.content_type, "
            f"t.headers::text AS headers, t.body, t.tries, t.refused, t.failures, "
            f"extract(epoch FROM clock_timestamp() - t.created_at)::float8 AS age_s"
        )
        self._delete = f"DELETE FROM {table} WHERE id = ANY($1::bigint[])"
        self._untry = f"UPDATE {table} SET tries = tries - 1 WHERE id = ANY($1::bigint[])"
        self._failed = (
            f"UPDATE {table} SET failures = failures + 1, refused = refused + $2, "
            f"last_error = $3 WHERE id = $1"
        )
        back_off = "due_at = clock_timestamp() + make_interval(secs => $2)"
        self._back_off_key = f"UPDATE {table} SET {back_off} WHERE key = $1"
        self._back_off_row = f"UPDATE {table} SET {back_off} WHERE id = $1::bigint"

    async def lock_work(self, conn: Any) -> tuple[list[str], list[int]]:
        """Try-lock the keys (and keyless rows) of the oldest due rows; those now owned."""
        keys: list[str] = []
        ids: list[int] = []
        for record in await conn.fetch(self._lock_work):
            if record["key"] is not None:
                keys.append(record["key"])
            else:
                ids.append(record["id"])
        return keys, ids

    async def take(self, conn: Any, keys: list[str], ids: list[int]) -> list[OutboxRow]:
        """Up to a batch of the owned rows, oldest first, each with one more try counted."""
        records = await conn.fetch(self._take, keys, ids)
        rows = [
            OutboxRow(
                id=r["id"],
                key=r["key"],
                exchange=r["exchange"],
                routing_key=r["routing_key"],
                message_id=r["message_id"],
                content_type=r["content_type"],
                headers=None if r["headers"] is None else json.loads(r["headers"]),
                body=r["body"],
                tries=r["tries"],
                refused=r["refused"],
                failures=r["failures"],
                age_s=r["age_s"],
            )
            for r in records
        ]
        rows.sort(key=lambda row: row.id)
        return rows

    async def finish(
        self,
        conn: Any,
        *,
        published: list[int],
        failures: list[Failure],
        untried: list[int],
    ) -> None:
        """Delete the confirmed rows, record failures and back-offs, in one transaction.

        It commits without waiting for the flush to disk: a crash of PostgreSQL that undoes
        it publishes the rows again, and their tries (``take``, flushed) count them as
        republished; a failure or an untry undone only counts one possible duplicate more."""
        async with conn.transaction():
            await conn.execute("SET LOCAL synchronous_commit TO off")
            if published:
                await conn.execute(self._delete, published)
            if untried:
                await conn.execute(self._untry, untried)
            for failure in failures:
                row = failure.row
                await conn.execute(self._failed, row.id, int(failure.refused), failure.error[:1000])
                if row.key is None:
                    await conn.execute(self._back_off_row, row.id, failure.retry_in_s)
                else:
                    await conn.execute(self._back_off_key, row.key, failure.retry_in_s)

    async def unlock(self, conn: Any) -> None:
        """Give up every key this relay owns (after ``finish`` committed)."""
        await conn.execute("SELECT pg_advisory_unlock_all()")
