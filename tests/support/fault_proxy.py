"""A loopback TCP proxy that injects faults: cut every connection, refuse new ones, stall, slow;
it also keeps every byte the client sent (``sent``), to check what went on the wire.

Put it between the app and RabbitMQ (the AMQP or stream port of the broker in use, see
``tests/support/broker.py``): the app connects to
``127.0.0.1:<proxy.port>``. Only the proxy's own connections are affected — never anybody
else's on the shared broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from tests.support.broker import AMQP_HOST, AMQP_PORT


class FaultProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target``, with faults on demand."""

    def __init__(self, target_host: str = AMQP_HOST, target_port: int = AMQP_PORT) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.cuts = 0
        self.delay_s = 0.0
        #: Every client → broker byte, in order (all connections).
        self.sent = bytearray()
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._blocked = False
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def __aenter__(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.cut()
        for task in list(self._links):
            task.cancel()
        await asyncio.gather(*self._links, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._server.wait_closed()

    @property
    def links(self) -> int:
        """Connections the proxy carries right now."""
        return len(self._links)

    def url(self, scheme: str = "amqp", user: str = "guest", password: str = "guest") -> str:
        """The URL to give the app (credentials pass through to the broker)."""
        return f"{scheme}://{user}:{password}@127.0.0.1:{self.port}/"

    def cut(self) -> None:
        """Close every connection through the proxy at once (both sides), as a dead link would."""
        self.cuts += 1
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    def block(self) -> None:
        """Refuse new connections (and cut the current ones): the broker looks down."""
        self._blocked = True
        self.cut()

    def unblock(self) -> None:
        """Accept connections again."""
        self._blocked = False

    async def stall(self, seconds: float) -> None:
        """Stop forwarding for ``seconds`` (connections stay open, nothing moves)."""
        self._flowing.clear()
        try:
            await asyncio.sleep(seconds)
        finally:
            self._flowing.set()

    def slow(self, delay_s: float) -> None:
        """Add ``delay_s`` to every chunk forwarded (0 to stop)."""
        self.delay_s = delay_s

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._blocked:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        task = asyncio.current_task()
        assert task is not None
        self._links.add(task)
        forward = asyncio.ensure_future(self._pipe(reader, up_writer, record=self.sent))
        backward = asyncio.ensure_future(self._pipe(up_reader, writer))
        try:
            await asyncio.wait({forward, backward}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in (forward, backward):
                pipe.cancel()
            await asyncio.gather(forward, backward, return_exceptions=True)
            for w in (writer, up_writer):
                self._writers.discard(w)
                with contextlib.suppress(Exception):
                    w.transport.abort()
            self._links.discard(task)

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        record: bytearray | None = None,
    ) -> None:
        while data := await reader.read(65536):
            if record is not None:
                record.extend(data)
            await self._flowing.wait()
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            writer.write(data)
            await writer.drain()


class LoseFirstReplies:
    """A proxy to Redis that stops returning replies on the first connection through it once
    that connection sent ``trigger`` (a ``SET``): the commands run on Redis, the client never
    hears of it. With ``cut``, the first reply withheld also closes that connection (a link
    that broke with the commands in flight)."""

    def __init__(self, *, cut: bool = False, trigger: bytes = b"\r\nSET\r\n") -> None:
        self.cut = cut
        self.trigger = trigger
        self.port = 0
        self.connections = 0
        self.triggered = False
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> LoseFirstReplies:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        first = self.connections == 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 6379)
        self._writers += [writer, up_writer]

        async def upstream() -> None:
            while data := await reader.read(65536):
                if first and self.trigger in data:
                    self.triggered = True
                up_writer.write(data)
                await up_writer.drain()

        async def downstream() -> None:
            while data := await up_reader.read(65536):
                if not (first and self.triggered):
                    writer.write(data)
                    await writer.drain()
                elif self.cut:
                    writer.transport.abort()
                    up_writer.transport.abort()
                    return

        await asyncio.gather(upstream(), downstream(), return_exceptions=True)


class Stopwatch:
    """Seconds since a mark (recovery times printed by the fault tests)."""

    def __init__(self) -> None:
        self.marked = time.monotonic()

    def mark(self) -> None:
        self.marked = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.marked
