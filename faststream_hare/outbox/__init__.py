"""Transactional outbox and inbox on PostgreSQL: a message is published if and only if the
transaction that wrote it commits, and a handler's effects commit with its "done" mark.

Needs the ``outbox`` extra (asyncpg, SQLAlchemy). Nothing else in hare imports this package
(except the ``hare`` command), so an app without it never loads asyncpg.
"""

from faststream_hare.outbox.backlog import Backlog
from faststream_hare.outbox.inbox import PostgresStore
from faststream_hare.outbox.outbox import Outbox
from faststream_hare.outbox.tables import OutboxTables

__all__ = ("Backlog", "Outbox", "OutboxTables", "PostgresStore")
