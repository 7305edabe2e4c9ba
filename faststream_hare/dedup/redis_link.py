"""Redis commands on a connection of the dedup store's own, one round trip per call.

A claim is one short command, so what redis-py's client does around it (a pool lock, a
health check, observability hooks, a retry wrapper, its stream reader and parser) costs about
as much as the round trip itself. ``RedisLink`` sends each call's commands in one write on a
``RespWire`` (``_internal/redis_wire.py``) and waits for their replies: concurrent calls share
the one socket, pipelined, and a batch of commands is one round trip. Measured here, a claim
through redis-py's client took 115 µs, through its bare connection 95 µs, on a wire 85 µs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from faststream_hare._internal import compat
from faststream_hare._internal.redis_wire import RedisConnectionLostError, RedisReplyError, RespWire

if TYPE_CHECKING:
    from redis.asyncio.connection import AbstractConnection, ConnectionPool

Command = Sequence[Any]


class RedisLink:
    """Runs commands on one connection made with ``pool``'s settings (owned here).

    Each call has one deadline, ``timeout_s`` after it starts, for connecting, the write and
    every reply; a call past it closes the connection (the next call opens a new one). A
    connection found closed (Redis restarted, an idle timeout) is replaced before the write.
    One that breaks while a call waits on it raises ``RedisConnectionLostError``: whether the
    commands ran is unknown, so they are sent again only for callers that say they are
    ``idempotent`` (a claim is not: run twice, it would look taken by someone else).
    """

    def __init__(self, pool: ConnectionPool, *, timeout_s: float) -> None:
        self._pool = pool
        self._timeout_s = timeout_s
        self._wire: RespWire | None = None
        self._opening = asyncio.Lock()

    async def execute(self, *command: Any, idempotent: bool = False) -> Any:
        """One command, one round trip; its reply."""
        [reply] = await self.execute_many((command,), idempotent=idempotent)
        return reply

    async def execute_many(
        self, commands: Sequence[Command], *, idempotent: bool = False
    ) -> list[Any]:
        """Every command in one write, then every reply: one round trip for the batch.

        An error reply raises ``RedisReplyError`` once every reply of the batch is in.
        """
        if not commands:
            return []
        packed = pack(commands)
        deadline = asyncio.get_running_loop().time() + self._timeout_s
        try:
            try:
                replies = await self._call(packed, len(commands), deadline)
            except RedisConnectionLostError:
                if not idempotent:
                    raise
                replies = await self._call(packed, len(commands), deadline)
        except TimeoutError as exc:
            msg = f"no reply from Redis within {self._timeout_s:g} s"
            raise TimeoutError(msg) from exc
        for reply in replies:
            if isinstance(reply, RedisReplyError):
                raise reply
        return replies

    async def _call(self, packed: bytes, expected: int, deadline: float) -> list[Any]:
        wire = self._wire
        if wire is None or wire.closed:
            wire = await self._open(deadline)
        return await wire.call(packed, expected, deadline)

    async def _open(self, deadline: float) -> RespWire:
        async with compat.timeout_at(deadline), self._opening:  # one connect at a time
            wire = self._wire
            if wire is None or wire.closed:
                self._wire = wire = await RespWire.open(self._new_connection())
            return wire

    def _new_connection(self) -> AbstractConnection:
        """With the pool's settings (URL, TLS, credentials, connect timeout); no socket timeout
        of its own: a call's deadline covers the whole exchange."""
        kwargs = {**self._pool.connection_kwargs, "socket_timeout": None}
        connection: AbstractConnection = self._pool.connection_class(**kwargs)
        return connection

    async def aclose(self) -> None:
        """Close the connection once the calls already sent have their replies."""
        wire, self._wire = self._wire, None
        if wire is not None:
            wire.close_when_idle()


def pack(commands: Sequence[Command]) -> bytes:
    """RESP arrays of bulk strings (``str`` as UTF-8, numbers as decimal text), what redis-py
    sends too; written here because redis-py's general packer was a third of a batch's claims."""
    chunks: list[bytes] = []
    for command in commands:
        chunks.append(b"*%d\r\n" % len(command))
        for arg in command:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            chunks.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(chunks)
