"""``Outbox``: messages written in the app's PostgreSQL transaction, published by a relay.

``add`` stores a message in the outbox table through the app's own transaction, so it exists
if and only if that transaction commits; the relay (started with the broker unless
``relay=False``) publishes committed rows with publisher confirms and deletes them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from faststream_hare._internal.confirm import ConfirmedPublisher
from faststream_hare._internal.tasks import end_tasks
from faststream_hare.errors import HareConfigError
from faststream_hare.outbox.backlog import Backlog, read_backlog, unreadable
from faststream_hare.outbox.connections import ConnectionSource
from faststream_hare.outbox.events import RelayEvents
from faststream_hare.outbox.record import build_record
from faststream_hare.outbox.relay import Relay
from faststream_hare.outbox.tables import DEFAULT_INBOX_TABLE, DEFAULT_OUTBOX_TABLE, OutboxTables
from faststream_hare.outbox.writer import write

if TYPE_CHECKING:
    from aio_pika.abc import AbstractRobustConnection

    from faststream_hare.broker import HareBroker

logger = logging.getLogger("faststream_hare.outbox")

#: How long ``stop()`` lets the batch in flight finish before cancelling it (then ending it
#: takes at most ``tasks.END_TIMEOUT_S``, the bound of every background task hare ends).
STOP_GRACE_S = 10.0


def _positive(value: object, option: str, fix: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        msg = f"{option} must be a positive number, got {value!r}; {fix}"
        raise HareConfigError(msg)


class Outbox:
    """A transactional outbox on PostgreSQL for ``broker`` (see the module docstring)."""

    def __init__(
        self,
        broker: HareBroker,
        *,
        dsn: str | None = None,
        pool: Any = None,
        engine: Any = None,
        table: str = DEFAULT_OUTBOX_TABLE,
        inbox_table: str = DEFAULT_INBOX_TABLE,
        relay: bool = True,
        batch_size: int = 500,
        poll_interval_ms: int = 1000,
    ) -> None:
        runtime = getattr(broker, "hare_runtime", None)
        if runtime is None:
            msg = f"Outbox needs a HareBroker, got a {type(broker).__name__}."
            raise HareConfigError(msg)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            msg = f"batch_size must be an integer >= 1, got {batch_size!r}; the default is 500."
            raise HareConfigError(msg)
        _positive(poll_interval_ms, "poll_interval_ms", "the default is 1000.")
        self.broker = broker
        self.source = ConnectionSource(dsn=dsn, pool=pool, engine=engine)
        self.tables = OutboxTables(table, inbox_table)
        self.relay_in_app = bool(relay)
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_ms / 1000
        self._relay: Relay | None = None
        self._task: asyncio.Task[None] | None = None
        self._publisher: ConfirmedPublisher | None = None
        runtime.companions.append(self)

    def __repr__(self) -> str:
        return f"Outbox(table={self.tables.outbox!r}, relay={self.relay_in_app})"

    async def add(
        self,
        tx: object,
        message: object,
        *,
        routing_key: str,
        exchange: str = "",
        message_id: str | None = None,
        key: str | None = None,
        headers: Mapping[str, object] | None = None,
    ) -> str:
        """Store ``message`` in the outbox through ``tx`` (the app's transaction); returns
        its message_id. It is published after ``tx`` commits; a rollback leaves nothing.

        ``key``: messages with the same key are published in commit order. A message that
        cannot be encoded raises ``EncodingFailedError`` here (the transaction may roll back).
        """
        record = build_record(
            message,
            exchange=exchange,
            routing_key=routing_key,
            message_id=message_id,
            key=key,
            headers=headers,
        )
        await write(tx, self.tables, record)
        return record.message_id

    # -- the relay ---------------------------------------------------------------------------

    async def start(self) -> None:
        """The broker started: start the relay in the app (unless ``relay=False``)."""
        if self.relay_in_app:  # not in memory: the transport starts no companion there
            self.start_relay()

    def start_relay(self) -> None:
        """Start relaying in a task of this loop (the broker is connected); ``stop()`` ends it."""
        if self._task is not None:
            return
        relay = self._new_relay()
        self._task = asyncio.get_running_loop().create_task(
            relay.run(), name=f"hare-outbox-relay:{self.tables.outbox}"
        )

    async def stop(self) -> None:
        """Let the batch in flight finish (up to ``STOP_GRACE_S``), then end the relay (cancel
        until it ended, at most ``tasks.END_TIMEOUT_S`` more): bounded even when PostgreSQL or
        RabbitMQ stopped answering, and a cancel of the caller reaches the caller."""
        task, self._task = self._task, None
        relay = self._relay
        if relay is not None:
            relay.stopping = True
            relay.wake()
        try:
            if task is not None:
                try:
                    await asyncio.wait({task}, timeout=STOP_GRACE_S)
                finally:  # also when the caller is cancelled: the relay never outlives stop()
                    await end_tasks([task])
        finally:
            publisher, self._publisher = self._publisher, None
            if publisher is not None:
                await publisher.close()

    @property
    def relayed(self) -> int:
        """Messages the relay of this process published and deleted since it started."""
        return 0 if self._relay is None else self._relay.relayed

    @property
    def republished(self) -> int:
        """Of ``relayed``, messages an earlier try may have published already (a relay
        stopped between publish and delete): possible duplicates, same message_id."""
        return 0 if self._relay is None else self._relay.republished

    def _new_relay(self) -> Relay:
        runtime = self.broker.hare_runtime
        self._publisher = ConfirmedPublisher(lambda: _live(runtime.connection))
        self._relay = Relay(
            source=self.source,
            tables=self.tables,
            publisher=self._publisher,
            events=RelayEvents(self.broker, self.tables.outbox),
            batch_size=self.batch_size,
            poll_interval_s=self.poll_interval_s,
            confirm_timeout_s=runtime.settings.confirm_timeout_ms / 1000,
        )
        return self._relay

    # -- operations --------------------------------------------------------------------------

    async def init_schema(self) -> None:
        """Create the tables, index and trigger (``hare outbox init``); safe to run again."""
        async with self.source.connection() as conn:
            await conn.execute(self.tables.schema_sql())

    async def backlog(self) -> Backlog:
        """Rows waiting, the oldest one's age and the relay lag (``hare status``); a backlog
        with ``problem`` set when the table cannot be read."""
        try:
            async with self.source.connection() as conn:
                return await read_backlog(conn, self.tables)
        except Exception as exc:  # a status page shows why instead of failing
            return unreadable(self.tables, exc)


def _live(connection: AbstractRobustConnection | None) -> AbstractRobustConnection | None:
    """The broker's connection, also while it reconnects; ``None`` once closed for good."""
    if connection is None or connection.close_called:
        return None
    return connection
