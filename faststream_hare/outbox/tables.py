"""The names of the outbox's PostgreSQL objects, checked once, and the schema that makes them.

Table names are configurable (several apps may share one database); they are spliced into SQL,
so only plain identifiers (optionally schema-qualified) are accepted. The schema is created by
``hare outbox init`` from ``schema.sql`` — never at import or at start.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from importlib import resources

from faststream_hare.errors import HareConfigError

DEFAULT_OUTBOX_TABLE = "hare_outbox"
DEFAULT_INBOX_TABLE = "hare_inbox"

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,40}(\.[a-z_][a-z0-9_]{0,40})?")


def check_table_name(value: object, option: str) -> str:
    """``value`` if it is a lower-case identifier (``schema.table`` allowed); else one sentence."""
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        msg = (
            f"{option} must be a lower-case table name such as 'hare_outbox' or "
            f"'app.hare_outbox' (letters, digits, '_'), got {value!r}."
        )
        raise HareConfigError(msg)
    return value


def lock_namespace(text: str) -> int:
    """A stable signed 32-bit number for ``text`` (advisory lock namespaces)."""
    value = zlib.crc32(text.encode())
    return value - (1 << 32) if value >= 1 << 31 else value


@dataclass(frozen=True)
class OutboxTables:
    """The outbox table, the inbox table and the names derived from them."""

    outbox: str = DEFAULT_OUTBOX_TABLE
    inbox: str = DEFAULT_INBOX_TABLE

    def __post_init__(self) -> None:
        check_table_name(self.outbox, "table")
        check_table_name(self.inbox, "inbox_table")

    @property
    def channel(self) -> str:
        """The LISTEN/NOTIFY channel a commit of new rows notifies."""
        return self.outbox.replace(".", "_")

    @property
    def writer_lock(self) -> int:
        """Advisory lock namespace writers take per key (orders commits of one key)."""
        return lock_namespace(f"{self.outbox}:writer")

    @property
    def relay_lock(self) -> int:
        """Advisory lock namespace a relay takes per key while it publishes that key."""
        return lock_namespace(f"{self.outbox}:relay")

    @property
    def row_lock(self) -> int:
        """Advisory lock namespace a relay takes per row without a key."""
        return lock_namespace(f"{self.outbox}:row")

    def schema_sql(self) -> str:
        """``schema.sql`` with these names filled in (comments at its top left out)."""
        text = resources.files(__package__).joinpath("schema.sql").read_text()
        body = text.split("\n\n", 1)[1]
        for name, value in (
            ("{outbox_name}", self.outbox.replace(".", "_")),
            ("{inbox_name}", self.inbox.replace(".", "_")),
            ("{outbox}", self.outbox),
            ("{inbox}", self.inbox),
            ("{channel}", self.channel),
        ):
            body = body.replace(name, value)
        return body
