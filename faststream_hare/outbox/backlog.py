"""What ``hare status`` shows of an outbox: rows waiting, the oldest one's age, the relay lag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faststream_hare._internal.masking import mask_text
from faststream_hare.outbox.tables import OutboxTables


@dataclass(frozen=True, slots=True)
class Backlog:
    """One outbox table's backlog."""

    table: str
    #: Committed rows not yet published.
    waiting: int
    #: Of those, rows backing off after a failed try.
    failing: int
    #: Age of the oldest waiting row in seconds (0 when none waits).
    oldest_age_s: float
    #: Age of the oldest row the relay could publish now: how far behind it is.
    relay_lag_s: float
    #: The last failure recorded on a waiting row.
    last_error: str | None
    #: Why the numbers could not be read (the table is missing, PostgreSQL unreachable).
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``."""
        return {
            "table": self.table,
            "waiting": self.waiting,
            "failing": self.failing,
            "oldest_age_s": round(self.oldest_age_s, 3),
            "relay_lag_s": round(self.relay_lag_s, 3),
            "last_error": self.last_error,
            "problem": self.problem,
        }


def unreadable(tables: OutboxTables, exc: Exception) -> Backlog:
    """The backlog of an outbox whose table could not be read, with the reason."""
    if type(exc).__name__ == "UndefinedTableError":
        problem = "the table does not exist: run `hare outbox init APP`"
    else:
        problem = f"cannot read it ({type(exc).__name__}: {mask_text(str(exc))})"
    return Backlog(tables.outbox, 0, 0, 0.0, 0.0, None, problem)


async def read_backlog(conn: Any, tables: OutboxTables) -> Backlog:
    """One query over the outbox table."""
    record = await conn.fetchrow(
        f"SELECT count(*) AS waiting, "
        f"count(*) FILTER (WHERE due_at > now()) AS failing, "
        f"coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest, "
        f"coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE due_at <= now())), "
        f"0)::float8 AS lag, "
        f"(SELECT last_error FROM {tables.outbox} WHERE last_error IS NOT NULL "
        f"ORDER BY id DESC LIMIT 1) AS last_error "
        f"FROM {tables.outbox}"
    )
    return Backlog(
        table=tables.outbox,
        waiting=record["waiting"],
        failing=record["failing"],
        oldest_age_s=max(record["oldest"], 0.0),
        relay_lag_s=max(record["lag"], 0.0),
        last_error=record["last_error"],
    )
