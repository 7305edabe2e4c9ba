"""Serving the console for a browser test: uvicorn in a thread, or `hare console` itself."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(
    app: ASGIApp, *, certfile: str | None = None, keyfile: str | None = None
) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread on a free port; yields its base URL.

    As ``hare console`` does, uvicorn does not rewrite the scheme from ``X-Forwarded-Proto``.
    """
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        proxy_headers=False,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the console server did not start")
        time.sleep(0.02)
    try:
        yield f"{'https' if certfile else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@dataclass
class ConsoleRun:
    """A ``hare console`` process: its start-up line, and all it wrote once it has stopped."""

    line: str
    output: str = ""

    @property
    def base(self) -> str:
        """The address it printed, without any ``?token=``."""
        return self.line.split()[3].partition("?")[0]


@contextlib.contextmanager
def hare_console(*args: str) -> Iterator[ConsoleRun]:
    """``hare console ARGS --port <free>`` in a process (``HARE_CONSOLE_TOKEN`` unset).

    The process is stopped with SIGTERM, as by an operator's Ctrl-C, when the block ends.
    """
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k != "HARE_CONSOLE_TOKEN"}
    command = [sys.executable, "-m", "faststream_hare.ops.cli", "console", *args]
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "console.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*command, "--port", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=environment,
            )
        try:
            run = ConsoleRun(_wait_started(process, log, port))
            yield run
        finally:
            process.terminate()
            process.wait(timeout=15)
        run.output = log.read_text()


def _wait_started(process: subprocess.Popen[bytes], log: Path, port: int) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"hare console exited: {log.read_text()}")
        started = [x for x in log.read_text().splitlines() if x.startswith("hare console on")]
        if started:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                return started[0]
        time.sleep(0.05)
    raise AssertionError(f"hare console did not start: {log.read_text()}")


def https_proxy(upstream: str) -> Starlette:
    """A TLS-terminating proxy in front of ``upstream`` (serve it with a certificate).

    It passes the browser's ``Host`` on and adds ``X-Forwarded-Proto: https``, as nginx or a
    load balancer is configured to.
    """
    hop = {"content-length", "transfer-encoding", "connection", "keep-alive"}

    async def forward(request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k not in hop}
        query = f"?{request.url.query}" if request.url.query else ""
        async with httpx.AsyncClient(timeout=60) as client:  # a loaded test machine is slow
            answer = await client.request(
                request.method,
                f"{upstream}{request.url.path}{query}",
                headers=headers | {"x-forwarded-proto": "https"},
                content=await request.body(),
            )
        response = Response(answer.content, status_code=answer.status_code)
        response.raw_headers += [
            (k, v) for k, v in answer.headers.raw if k.decode().lower() not in hop
        ]
        return response

    return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "HEAD", "POST"])])
