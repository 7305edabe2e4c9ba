"""The relay: publishes committed outbox rows, confirmed, in commit order per key.

It runs in the app (started with the broker) or on its own (``hare outbox relay APP``). It
works in batches (see ``claims`` for how relays share a table) and sleeps between them until
a commit notifies the table's channel (``LISTEN``), or the poll interval passes — the fallback
for a lost notification, a back-off that ended, or work another relay held.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from faststream_hare._internal.confirm import ConfirmedPublisher
from faststream_hare.outbox.backlog import read_backlog
from faststream_hare.outbox.claims import RelayQueries
from faststream_hare.outbox.connections import ConnectionSource
from faststream_hare.outbox.events import RelayEvents
from faststream_hare.outbox.sending import publish_rows
from faststream_hare.outbox.tables import OutboxTables

logger = logging.getLogger("faststream_hare.outbox")

#: Pauses while PostgreSQL cannot be reached: 0.5 s doubling to 5 s.
DB_DOWN_FIRST_S = 0.5
DB_DOWN_MAX_S = 5.0
#: The relay reads its table's backlog (``hare_outbox_waiting`` …) at most this often when it
#: is idle or a batch failed, and this often while it publishes without failures.
BACKLOG_QUIET_EVERY_S = 1.0
BACKLOG_BUSY_EVERY_S = 5.0


class Relay:
    """One relay loop for one outbox table."""

    def __init__(
        self,
        *,
        source: ConnectionSource,
        tables: OutboxTables,
        publisher: ConfirmedPublisher,
        events: RelayEvents,
        batch_size: int,
        poll_interval_s: float,
        confirm_timeout_s: float,
    ) -> None:
        self.source = source
        self.tables = tables
        self.publisher = publisher
        self.events = events
        self.queries = RelayQueries(tables, batch_size)
        self.poll_interval_s = poll_interval_s
        self.confirm_timeout_s = confirm_timeout_s
        self.stopping = False
        self._wake = asyncio.Event()
        #: Rows published by this relay (what the loop confirmed and deleted).
        self.relayed = 0
        #: Of those, rows an earlier try may have published already (possible duplicates).
        self.republished = 0
        self._failed_last = 0
        self._backlog_read_at = -BACKLOG_BUSY_EVERY_S

    def wake(self) -> None:
        """Run a batch now (a commit notified, or the relay is stopping)."""
        self._wake.set()

    async def run(self) -> None:
        """Relay until ``stopping`` (checked between batches) or cancelled."""
        pause = DB_DOWN_FIRST_S
        while not self.stopping:
            try:
                async with self.source.connection() as work, self.source.connection() as listen:
                    # a try counted (``take``) is on disk before the row is published, also
                    # when the server's default is off: after a crash of PostgreSQL itself a
                    # republished row is still counted. ``finish`` commits without the flush
                    # (see ``claims``)
                    await work.execute("SET synchronous_commit TO on")
                    await listen.add_listener(self.tables.channel, self._notified)
                    pause = DB_DOWN_FIRST_S
                    try:
                        await self._loop(work, listen)
                    finally:
                        if not listen.is_closed():
                            await listen.remove_listener(self.tables.channel, self._notified)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.stopping:
                    return
                if type(exc).__name__ == "UndefinedTableError":
                    logger.error(
                        "Outbox '%s': the table does not exist; create it with "
                        "`hare outbox init APP` (trying again in %.1f s)",
                        self.tables.outbox,
                        pause,
                    )
                else:
                    logger.warning(
                        "Outbox '%s': relay lost PostgreSQL (%s: %s); trying again in %.1f s",
                        self.tables.outbox,
                        type(exc).__name__,
                        exc,
                        pause,
                    )
                await asyncio.sleep(pause)
                pause = min(pause * 2, DB_DOWN_MAX_S)

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    async def _loop(self, work: Any, listen: Any) -> None:
        while not self.stopping:
            self._wake.clear()
            taken = await self.run_batch(work)
            await self._report_backlog(work, quiet=not taken or self._failed_last > 0)
            if taken:
                continue
            if listen.is_closed():
                msg = "the LISTEN connection closed"
                raise ConnectionError(msg)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)

    async def _report_backlog(self, conn: Any, *, quiet: bool) -> None:
        """Read and report the backlog when due: a relay that publishes nothing (idle, or
        every try fails) still says how much waits and for how long."""
        now = time.monotonic()
        every = BACKLOG_QUIET_EVERY_S if quiet else BACKLOG_BUSY_EVERY_S
        if now - self._backlog_read_at < every:
            return
        self._backlog_read_at = now
        self.events.backlog(await read_backlog(conn, self.tables))

    async def run_batch(self, conn: Any) -> int:
        """Lock, take, publish, finish, unlock one batch; returns the rows taken."""
        queries = self.queries
        self._failed_last = 0
        try:
            keys, ids = await queries.lock_work(conn)
            if not (keys or ids):
                return 0
            rows = await queries.take(conn, keys, ids)
            if not rows:
                await queries.unlock(conn)
                return 0
            started = time.monotonic()
            outcome = await publish_rows(rows, self.publisher, timeout_s=self.confirm_timeout_s)
            await queries.finish(
                conn,
                published=[row.id for row in outcome.published],
                failures=outcome.failures,
                untried=[row.id for row in outcome.untried],
            )
        except BaseException:
            # the rows stay (a later batch publishes them again); the locks go with the
            # session when the connection is broken, else they are given up here
            if not conn.is_closed():
                with contextlib.suppress(Exception):
                    await queries.unlock(conn)
            raise
        await queries.unlock(conn)
        self.relayed += len(outcome.published)
        self.republished += sum(1 for row in outcome.published if row.maybe_published_before)
        self._failed_last = len(outcome.failures)
        for failure in outcome.failures:
            self.events.failed(failure)
        self.events.batch(outcome.published, time.monotonic() - started, len(outcome.failures))
        return len(rows)
