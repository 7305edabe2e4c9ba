"""Where the relay gets its PostgreSQL connections: a DSN, the app's asyncpg pool, or the
DSN of the app's SQLAlchemy engine (the relay needs asyncpg's LISTEN and session locks).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from faststream_hare._internal.extras import missing_extra
from faststream_hare.errors import HareConfigError


class ConnectionSource:
    """Opens the relay's connections; exactly one of ``dsn``, ``pool``, ``engine``."""

    def __init__(self, *, dsn: str | None, pool: Any, engine: Any) -> None:
        given = [
            name for name, value in (("dsn", dsn), ("pool", pool), ("engine", engine)) if value
        ]
        if len(given) != 1:
            msg = (
                "Outbox needs exactly one of dsn=, pool= (an asyncpg pool) or engine= "
                f"(a SQLAlchemy AsyncEngine), got {', '.join(given) or 'none'}."
            )
            raise HareConfigError(msg)
        if engine is not None:
            dsn = _engine_dsn(engine)
        if dsn is not None and not isinstance(dsn, str):
            msg = f"dsn must be a str such as 'postgresql://host/db', got {type(dsn).__name__}."
            raise HareConfigError(msg)
        if pool is not None and not hasattr(pool, "acquire"):
            msg = f"pool must be an asyncpg pool, got {type(pool).__name__}."
            raise HareConfigError(msg)
        self.dsn = dsn
        self.pool = pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """A connection of the relay's own for the duration of the block."""
        if self.pool is not None:
            async with self.pool.acquire() as conn:
                yield conn
            return
        conn = await import_asyncpg().connect(self.dsn)
        try:
            yield conn
        finally:
            conn.terminate() if conn.is_closed() else await _close(conn)


async def _close(conn: Any) -> None:
    """Close politely for at most 2 s; a link that does not answer, or a cancel (the relay
    is being ended), drops the connection instead of leaving it open."""
    try:
        await conn.close(timeout=2)
    except Exception:
        conn.terminate()
    except BaseException:
        conn.terminate()
        raise


def import_asyncpg() -> Any:
    """``asyncpg``, or one sentence naming the extra that installs it."""
    try:
        import asyncpg
    except ModuleNotFoundError as exc:
        raise missing_extra(__name__, exc) from None
    return asyncpg


def _engine_dsn(engine: Any) -> str:
    """The asyncpg DSN of a SQLAlchemy ``AsyncEngine`` (``postgresql+asyncpg://`` → ``postgresql://``)."""
    url = getattr(engine, "url", None)
    if url is None or not hasattr(url, "render_as_string"):
        msg = f"engine must be a SQLAlchemy AsyncEngine, got {type(engine).__name__}."
        raise HareConfigError(msg)
    if not url.drivername.startswith("postgresql"):
        msg = f"engine must connect to PostgreSQL, got the '{url.drivername}' dialect."
        raise HareConfigError(msg)
    rendered: str = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return rendered
