"""Redis replies read straight off the socket: the only module using redis-py's internals.

A dedup claim is one short command. Reading its reply through redis-py's connection (its
stream reader, its parser, a timeout scope per read) took about 15 of the 60 µs of client CPU
a claim cost on loopback. redis-py still opens each connection, so TLS, ``unix://``, ACL users,
``SELECT`` and every URL option keep working; ``RespWire.open`` then takes the socket over
from the connection object (its private reader and writer) and parses the replies of the
commands hare sends itself: simple strings, errors, integers, bulk strings, arrays and nulls
(RESP2, and RESP3's null). Commands are pipelined on one socket: each caller's replies are the
next ones in order, so a caller that gives up does not put the connection out of step.
``tests/integration/test_redis_wire.py`` runs it against the redis-py release installed and
the real Redis.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.asyncio.connection import AbstractConnection


class RedisReplyError(Exception):
    """Redis answered a command with an error reply (``-ERR ...``)."""


class RedisConnectionLostError(ConnectionError):
    """The socket closed (or broke) before every reply of a call came back."""


class RedisDeadlineError(TimeoutError):
    """Redis did not answer a call on this connection by its deadline."""


_CLOSED = "the connection to Redis is closed"
_CLOSED_EARLY = "the connection to Redis closed before the reply"


class _NeedMoreBytesError(Exception):
    """The buffer ends inside a reply: wait for more bytes."""


@dataclass
class _Call:
    """The replies one caller waits for, in the order its commands were written."""

    future: asyncio.Future[list[Any]]
    expected: int
    deadline: float
    replies: list[Any] = field(default_factory=list)


class RespWire(asyncio.Protocol):
    """One Redis connection of hare's own, its commands written and replies matched in order.

    Each call has a deadline (loop time). Replies come in order, so a call past its deadline
    means Redis stopped answering this connection: it is closed and every call still waiting
    fails with ``RedisDeadlineError``. One timer watches the earliest deadline: a call costs no
    timer of its own.
    """

    def __init__(self, transport: asyncio.Transport, owner: object = None) -> None:
        self._transport = transport
        # asyncio's StreamWriter closes its transport when collected: the one redis-py
        # opened lives as long as this wire
        self._owner = owner
        self._loop = asyncio.get_running_loop()
        self._buffer = bytearray()
        self._calls: deque[_Call] = deque()
        self._watchdog: asyncio.TimerHandle | None = None
        self._closing = False
        self._lost = False

    @classmethod
    async def open(cls, connection: AbstractConnection) -> RespWire:
        """Connect with redis-py (handshake included), then take its socket over."""
        try:
            await connection.connect()  # type: ignore[no-untyped-call]
        except BaseException:  # cancelled or failed half-way: no socket left behind
            await connection.disconnect(nowait=True)
            raise
        writer = connection._writer  # the stream writer redis-py opened
        if writer is None:  # pragma: no cover - connect() returned without a socket
            msg = "redis-py connected without a socket"
            raise RedisConnectionLostError(msg)
        transport: Any = writer.transport
        wire = cls(transport, owner=writer)
        transport.set_protocol(wire)
        # the connection object no longer owns the socket: it must not close it when collected
        connection._reader = connection._writer = None
        return wire

    @property
    def closed(self) -> bool:
        """No more calls can be made on this socket."""
        return self._closing or self._lost or self._transport.is_closing()

    def call(self, packed: bytes, expected: int, deadline: float) -> asyncio.Future[list[Any]]:
        """Write ``packed`` (``expected`` commands); the future gets their replies in order,
        an error reply as a ``RedisReplyError`` in its place."""
        if self.closed:
            raise RedisConnectionLostError(_CLOSED)
        future: asyncio.Future[list[Any]] = self._loop.create_future()
        self._calls.append(_Call(future, expected, deadline))
        watchdog = self._watchdog
        if watchdog is None or deadline < watchdog.when():
            self._watch(deadline)
        self._transport.write(packed)
        return future

    def close(self) -> None:
        """Close now; calls still waiting fail with ``RedisConnectionLostError``."""
        self._closing = True
        self._transport.close()
        self._fail_waiting(RedisConnectionLostError, _CLOSED_EARLY)

    def close_when_idle(self) -> None:
        """Take no new calls; close once the calls already written have their replies."""
        self._closing = True
        if not self._calls:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        buffer, end = self._buffer, 0
        try:
            while end < len(buffer):
                reply, end = parse_reply(buffer, end)
                self._deliver(reply)
        except _NeedMoreBytesError:
            pass
        except (ValueError, RedisConnectionLostError) as exc:  # not RESP, or an unasked-for reply
            self._abort(RedisConnectionLostError, f"Redis sent what hare cannot read: {exc}")
            return
        del buffer[:end]
        if self._closing and not self._calls:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._fail_waiting(RedisConnectionLostError, _CLOSED_EARLY)

    def _deliver(self, reply: Any) -> None:
        if not self._calls:
            msg = "a reply no command asked for"
            raise RedisConnectionLostError(msg)
        call = self._calls[0]
        call.replies.append(reply)
        if len(call.replies) == call.expected:
            self._calls.popleft()
            if not call.future.done():  # done: its caller gave up (cancelled)
                call.future.set_result(call.replies)

    def _watch(self, deadline: float) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._watchdog = self._loop.call_at(deadline, self._check_deadlines)

    def _check_deadlines(self) -> None:
        self._watchdog = None
        if not self._calls:
            return
        now = self._loop.time()
        if any(call.deadline <= now for call in self._calls):
            self._abort(RedisDeadlineError, "no reply from Redis by the deadline")
        else:
            self._watch(min(call.deadline for call in self._calls))

    def _abort(self, error: type[Exception], text: str) -> None:
        self._lost = True
        self._transport.abort()
        self._fail_waiting(error, text)

    def _fail_waiting(self, error: type[Exception], text: str) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        calls, self._calls = self._calls, deque()
        for call in calls:
            if not call.future.done():
                call.future.set_exception(error(text))  # one instance per waiting caller


def parse_reply(buffer: bytes | bytearray, start: int) -> tuple[Any, int]:
    """The reply that begins at ``start`` and where the next one begins.

    Raises ``_NeedMoreBytesError`` when the buffer ends first, ``ValueError`` when it is not
    RESP."""
    line_end = buffer.find(b"\r\n", start)
    if line_end < 0:
        raise _NeedMoreBytesError
    kind, line, after = buffer[start], bytes(buffer[start + 1 : line_end]), line_end + 2
    if kind == 0x2B:  # '+' simple string
        return line.decode(), after
    if kind == 0x24:  # '$' bulk string
        size = int(line)
        if size < 0:
            return None, after
        if len(buffer) < after + size + 2:
            raise _NeedMoreBytesError
        return bytes(buffer[after : after + size]).decode(errors="replace"), after + size + 2
    if kind == 0x3A:  # ':' integer
        return int(line), after
    if kind == 0x2D:  # '-' error
        return RedisReplyError(line.decode(errors="replace")), after
    if kind == 0x2A:  # '*' array
        size = int(line)
        if size < 0:
            return None, after
        items = []
        for _ in range(size):
            item, after = parse_reply(buffer, after)
            items.append(item)
        return items, after
    if kind == 0x5F:  # '_' RESP3 null
        return None, after
    msg = f"unexpected Redis reply type {chr(kind)!r}"
    raise ValueError(msg)
