"""Redis calls of the dedup and idempotency stores, on one connection of redis-py's asyncio API.

redis-py opens the connection (URL, TLS, ``unix://``, credentials, database, RESP2 or RESP3),
packs the commands and parses the replies. Nothing is sent again behind the caller's back (no
redis-py retry wraps these calls): a claim sent again blindly after its connection broke could
find its own key taken and report a message never published as a duplicate. A call whose
connection breaks raises ``RedisConnectionLostError`` (whether it ran is unknown) and is sent
again only when its caller says it is ``idempotent``.

One round trip at a time: a call made while the link is idle goes at once, in its caller's
task; the calls made while a round trip is in flight wait for it and then leave together, in
one write. Concurrent claims thus share one connection and their round trips, and a cut link
costs one reconnect, not one per caller.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faststream_hare._internal import compat
from faststream_hare.errors import RedisConnectionLostError

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.connection import AbstractConnection

Command = Sequence[Any]


@dataclass
class _Call:
    """Commands of one caller, and the future that gets their replies in order."""

    commands: Sequence[Command]
    future: asyncio.Future[list[Any]]


class RedisLink:
    """Runs calls on one connection made by ``client``'s pool, each within ``timeout_s``."""

    def __init__(self, client: Redis, *, timeout_s: float) -> None:
        from redis import exceptions  # here: redis is an extra, needed once a store is built

        self.client = client
        self._timeout_s = timeout_s
        self._queued: list[_Call] = []
        self._busy = False  # a round trip is in flight
        self._sender: asyncio.Task[None] | None = None
        self._broken = exceptions.ConnectionError
        self._refused = exceptions.AuthenticationError
        self._late = exceptions.TimeoutError
        self._no_script = exceptions.NoScriptError
        self._reply_error = exceptions.ResponseError
        self._connection: AbstractConnection | None = None

    async def execute(self, *command: Any, idempotent: bool = False) -> Any:
        """One command; its reply (an error reply raises)."""
        [reply] = await self.execute_many((command,), idempotent=idempotent)
        return reply

    async def execute_many(
        self, commands: Sequence[Command], *, idempotent: bool = False
    ) -> list[Any]:
        """Every command in one write, then every reply: one round trip for the batch. An
        error reply raises once every reply of the batch is in."""
        replies = await self._replies(commands, idempotent=idempotent)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    async def run_script(
        self, script: Script, keys: Sequence[Any], args: Sequence[Any], *, idempotent: bool = False
    ) -> Any:
        """``EVALSHA``; ``EVAL`` with the script's text when Redis does not hold it yet (a
        ``NOSCRIPT`` reply means nothing ran: never a resend of a call that ran)."""
        [reply] = await self._replies(
            [("EVALSHA", script.sha, len(keys), *keys, *args)], idempotent=idempotent
        )
        if isinstance(reply, self._no_script):
            return await self.execute(
                "EVAL", script.text, len(keys), *keys, *args, idempotent=idempotent
            )
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def _replies(self, commands: Sequence[Command], *, idempotent: bool) -> list[Any]:
        """The replies (error replies in their place), within the deadline; sent again once
        on a broken connection when ``idempotent``."""
        if not commands:
            return []
        try:
            async with compat.timeout(self._timeout_s):
                try:
                    return await self._send(commands)
                except RedisConnectionLostError:
                    if not idempotent:
                        raise
                return await self._send(commands)
        except asyncio.TimeoutError as exc:
            msg = f"no reply from Redis within {self._timeout_s:g} s"
            raise TimeoutError(msg) from exc

    async def _send(self, commands: Sequence[Command]) -> list[Any]:
        if self._busy:  # wait for the round trip in flight, then leave with the others
            future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
            self._queued.append(_Call(commands, future))
            return await future
        self._busy = True
        try:
            return await self._write_and_read(commands)
        except Exception as exc:
            failure = self._failure(exc)
            if failure is exc:
                raise
            raise failure from exc
        finally:  # cancelled too: _write_and_read closed the connection
            self._busy = False
            self._send_queued_soon()

    def _send_queued_soon(self) -> None:
        if self._queued and (self._sender is None or self._sender.done()):
            self._busy = True
            self._sender = asyncio.get_running_loop().create_task(self._send_queued())

    async def _send_queued(self) -> None:
        """One round trip at a time, each with every call queued when it leaves. A caller
        that gave up (its future cancelled) is not waited for: its replies are read and
        dropped."""
        try:
            while self._queued:
                calls, self._queued = self._queued, []
                calls = [call for call in calls if not call.future.done()]
                if calls:
                    await self._round_trip(calls)
        finally:
            self._busy = False

    async def _write_and_read(self, commands: Sequence[Command]) -> list[Any]:
        """The commands in one write on the link's connection, then their replies (an error
        reply in its place). The connection is made by the client's pool, with its settings,
        and opened again after any failure."""
        connection = self._connection
        if connection is None:
            connection = self.client.connection_pool.make_connection()  # type: ignore[no-untyped-call]
            self._connection = connection
        try:
            if not connection.is_connected:
                await connection.connect()
            await connection.send_packed_command(
                connection.pack_commands(commands), check_health=False
            )
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(await connection.read_response())
                except self._reply_error as exc:
                    replies.append(exc)
        except BaseException:  # the replies of this write are not all read: never reuse it
            await connection.disconnect(nowait=True)
            raise
        return replies

    async def _round_trip(self, calls: list[_Call]) -> None:
        try:
            async with compat.timeout(self._timeout_s):  # the connection is closed on expiry
                replies = await self._write_and_read([c for call in calls for c in call.commands])
        except Exception as exc:  # the whole round trip failed: every call of it fails
            for call in calls:
                if not call.future.done():
                    call.future.set_exception(self._failure(exc))
            return
        start = 0
        for call in calls:
            end = start + len(call.commands)
            if not call.future.done():
                call.future.set_result(replies[start:end])
            start = end

    def _failure(self, exc: Exception) -> Exception:
        """One error per caller: a broken connection is ``RedisConnectionLostError``, a round
        trip past its deadline a ``TimeoutError``."""
        if isinstance(exc, self._broken) and not isinstance(exc, self._refused):
            lost = RedisConnectionLostError(
                f"the connection to Redis failed before the reply ({exc})"
            )
            lost.__cause__ = exc
            return lost
        if isinstance(exc, (self._late, asyncio.TimeoutError)):
            late = TimeoutError(f"no reply from Redis within {self._timeout_s:g} s")
            late.__cause__ = exc
            return late
        return exc

    async def aclose(self) -> None:
        """Close the connection once the round trips queued (if any) are over."""
        sender = self._sender
        if sender is not None and not sender.done():
            await asyncio.gather(sender, return_exceptions=True)
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.disconnect()
        await self.client.aclose()


class Script:
    """A Lua script and its SHA1, the name ``EVALSHA`` runs it by."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
