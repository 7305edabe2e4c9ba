"""A loopback TCP proxy that records what the client sends, to check bytes on the wire."""

from __future__ import annotations

import asyncio
import contextlib


class RecordingProxy:
    """Forwards 127.0.0.1:<port> to ``target``; ``sent`` holds every client→broker byte."""

    def __init__(self, target_host: str = "127.0.0.1", target_port: int = 5672) -> None:
        self.target = (target_host, target_port)
        self.sent = bytearray()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> RecordingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        forward = asyncio.ensure_future(self._pipe(reader, up_writer, record=True))
        backward = asyncio.ensure_future(self._pipe(up_reader, writer, record=False))
        self._tasks.update((forward, backward))
        await asyncio.wait({forward, backward}, return_when=asyncio.FIRST_COMPLETED)
        for task in (forward, backward):
            task.cancel()
        for w in (writer, up_writer):
            with contextlib.suppress(Exception):
                w.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, record: bool
    ) -> None:
        while data := await reader.read(65536):
            if record:
                self.sent.extend(data)
            writer.write(data)
            await writer.drain()
