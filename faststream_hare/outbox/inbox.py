"""``PostgresStore``: an idempotency store whose "done" mark commits with the handler's writes.

``Idempotency(store=PostgresStore(...))`` on a subscriber: before the handler runs, the store
opens a transaction on a connection of its pool, takes a transaction-scoped advisory lock on
the delivery's key (another delivery of the same message holding it: ``BUSY``) and looks the
key up in the inbox table (present and unexpired: ``DONE``, acked without running the
handler). The handler writes through ``inbox.connection()`` — that same transaction — and on
success the key is inserted and the transaction commits: the effects and the mark are one
commit. A failure rolls both back, so the redelivery runs the handler again; a crash after
the commit leaves the mark, so the redelivery is skipped. A redelivery is skipped if and only
if its effects committed.
"""

from __future__ import annotations

import contextvars
import logging
import time
import uuid
from typing import Any

from faststream_hare.dedup.store import Claim
from faststream_hare.errors import HareConfigError, HareError
from faststream_hare.idempotency.store import Seen
from faststream_hare.outbox.connections import import_asyncpg
from faststream_hare.outbox.tables import DEFAULT_INBOX_TABLE, check_table_name, lock_namespace

logger = logging.getLogger("faststream_hare.outbox")

#: Expired inbox rows are deleted at most this often (by whichever delivery comes first).
CLEAN_EVERY_S = 60.0
CLEAN_BATCH = 10_000

_current: contextvars.ContextVar[Any] = contextvars.ContextVar("hare_inbox_connection")


class PostgresStore:
    """An idempotency store on PostgreSQL (``dsn=`` or an asyncpg ``pool=``); see the module
    docstring. Each delivery in progress holds one connection of the pool."""

    #: ``mark_done`` commits the handler's effects: if it fails, the message must run again.
    done_commits_effects = True

    def __init__(
        self,
        *,
        dsn: str | None = None,
        pool: Any = None,
        table: str = DEFAULT_INBOX_TABLE,
        max_connections: int = 10,
    ) -> None:
        if (dsn is None) == (pool is None):
            msg = "PostgresStore needs exactly one of dsn= or pool= (an asyncpg pool)."
            raise HareConfigError(msg)
        self.dsn = dsn
        self._pool = pool
        self._own_pool = pool is None
        self.max_connections = max_connections
        self.table = check_table_name(table, "table")
        self._lock = lock_namespace(f"{self.table}:inbox")
        self._open: dict[str, tuple[Any, Any]] = {}
        self._ran: set[str] = set()
        self._cleaned_at = 0.0

    def __repr__(self) -> str:
        return f"PostgresStore(table={self.table!r}, in_progress={len(self._open)})"

    def __len__(self) -> int:
        """Deliveries in progress (their transactions are open)."""
        return len(self._open)

    def connection(self) -> Any:
        """The asyncpg connection of the delivery being handled, inside its transaction:
        write the handler's effects through it."""
        conn = _current.get(None)
        if conn is None:
            msg = (
                "inbox.connection() is only available inside a handler whose subscriber has "
                "idempotent=Idempotency(store=<this PostgresStore>)."
            )
            raise HareError(msg)
        return conn

    async def acquire(self, key: str, lease_ms: int) -> Claim | Seen:
        """Open the delivery's transaction and lock its key; ``DONE``/``BUSY`` otherwise."""
        pool = await self._pool_now()
        await self._clean_now_and_then(pool)
        conn = await pool.acquire()
        tx = conn.transaction()
        try:
            await tx.start()
            got = await conn.fetchval(
                "SELECT pg_try_advisory_xact_lock($1, hashtext($2))", self._lock, key
            )
            # a new statement: its snapshot sees what the lock's previous holder committed
            done = got and await conn.fetchval(
                f"SELECT 1 FROM {self.table} WHERE key = $1 AND expires_at > clock_timestamp()",
                key,
            )
        except BaseException:
            await _end(pool, conn, tx, commit=False)
            raise
        if not got or done:
            await _end(pool, conn, tx, commit=False)
            return Seen.DONE if done else Seen.BUSY
        token = uuid.uuid4().hex
        self._open[token] = (conn, tx)
        _current.set(conn)
        return Claim(key, token)

    async def begin_run(self, lease: Claim) -> None:
        """A run of the handler starts: undo the writes of an earlier run of this delivery
        (an immediate retry), so only the run that succeeds commits."""
        token = str(lease.token)
        conn, _ = self._open[token]
        if token in self._ran:
            await conn.execute("ROLLBACK TO SAVEPOINT hare_run")
        else:
            await conn.execute("SAVEPOINT hare_run")
            self._ran.add(token)

    async def mark_done(self, lease: Claim, period_ms: int) -> None:
        """Insert the key and commit the handler's transaction; raise if it did not commit."""
        conn, tx = self._take(lease)
        pool = await self._pool_now()
        try:
            await conn.execute(
                f"INSERT INTO {self.table} (key, expires_at) "
                f"VALUES ($1, clock_timestamp() + make_interval(secs => $2)) "
                f"ON CONFLICT (key) DO UPDATE SET done_at = clock_timestamp(), "
                f"expires_at = EXCLUDED.expires_at",
                lease.key,
                period_ms / 1000,
            )
        except BaseException:
            await _end(pool, conn, tx, commit=False)
            raise
        await _end(pool, conn, tx, commit=True)

    async def release(self, claim: Claim) -> None:
        """Roll the handler's transaction back (it failed): the redelivery runs it again."""
        if claim.token not in self._open:
            return
        conn, tx = self._take(claim)
        await _end(await self._pool_now(), conn, tx, commit=False)

    async def clean(self) -> int:
        """Delete expired inbox rows now; returns how many."""
        pool = await self._pool_now()
        async with pool.acquire() as conn:
            return await _clean(conn, self.table)

    async def aclose(self) -> None:
        """Roll back what is still open and close the pool this store made."""
        self._ran.clear()
        for token in list(self._open):
            conn, tx = self._open.pop(token)
            await _end(self._pool, conn, tx, commit=False)
        if self._own_pool and self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    def _take(self, claim: Claim) -> tuple[Any, Any]:
        _current.set(None)
        self._ran.discard(str(claim.token))
        try:
            return self._open.pop(str(claim.token))
        except KeyError:
            msg = f"the inbox lease of {claim.key} is not open (marked or released already)"
            raise HareError(msg) from None

    async def _pool_now(self) -> Any:
        if self._pool is None:
            self._pool = await import_asyncpg().create_pool(
                self.dsn, min_size=0, max_size=self.max_connections
            )
        return self._pool

    async def _clean_now_and_then(self, pool: Any) -> None:
        now = time.monotonic()
        if now - self._cleaned_at < CLEAN_EVERY_S:
            return
        self._cleaned_at = now
        try:
            async with pool.acquire() as conn:
                await _clean(conn, self.table)
        except Exception as exc:  # cleaning is housekeeping: never fail a delivery for it
            logger.warning("Could not delete expired rows of inbox '%s': %s", self.table, exc)


async def _clean(conn: Any, table: str) -> int:
    status: str = await conn.execute(
        f"DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table} "
        f"WHERE expires_at <= clock_timestamp() LIMIT {CLEAN_BATCH}))"
    )
    return int(status.rsplit(" ", 1)[-1])


async def _end(pool: Any, conn: Any, tx: Any, *, commit: bool) -> None:
    """Commit or roll back, and give the connection back to the pool (always)."""
    try:
        if commit:
            await tx.commit()
        elif not conn.is_closed():
            await tx.rollback()
    finally:
        await pool.release(conn)
