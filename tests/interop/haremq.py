"""Drive the real Elixir HareMq 1.5.0 from a test: build it, run `elixir_side.exs`, read its events.

`elixir_side.exs` (in ``../shared/elixir-haremq``) runs a HareMq consumer or publisher and prints
one JSON object per line on stdout. An ``ElixirSide`` collects those lines while the test goes on;
every wait has a deadline, and the process is always stopped (then killed) when the test leaves.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.rabbit_admin import AMQP_URL

REPO = Path(__file__).resolve().parents[2]
SETUP_SCRIPT = REPO / "scripts" / "setup-elixir.sh"
CANNOT_INSTALL = 3  # setup-elixir.sh: Elixir is missing and cannot be installed here
NO_SOURCES = 4  # setup-elixir.sh: no HareMq sources (a fresh clone without ../shared)
STOP_TIMEOUT_S = 15.0

#: The TTL HareMq 1.5.0 gives ``Q.dead`` (ms); hare's default is a thousand times longer.
HAREMQ_DEAD_TTL_MS = 31_449_600


def haremq_sources() -> Path:
    """``shared/elixir-haremq`` next to the repository (CI mounts a read-only copy there)."""
    default = REPO.parent / "shared" / "elixir-haremq"
    return Path(os.environ.get("HARE_ELIXIR_HAREMQ_DIR", default)).resolve()


@dataclass(frozen=True)
class Names:
    """One test's queue ``Q``, exchange ``E`` and routing key ``R``, shared by both sides."""

    queue: str
    exchange: str
    routing_key: str


@dataclass(frozen=True)
class HareMqBuild:
    """A compiled HareMq and the script that runs it."""

    build_dir: Path
    script: Path

    def command(self, *args: str) -> list[str]:
        flags = (self.build_dir / "pa_flags").read_text().split()
        return ["elixir", *flags, str(self.script), *args]


def build_haremq() -> HareMqBuild | str:
    """Run ``scripts/setup-elixir.sh``: the build, or why Elixir cannot be installed here."""
    done = subprocess.run(
        ["bash", str(SETUP_SCRIPT)], capture_output=True, text=True, timeout=900, check=False
    )
    if done.returncode == CANNOT_INSTALL:
        return f"Elixir cannot be installed here: {done.stderr.strip().splitlines()[-1]}"
    if done.returncode == NO_SOURCES and os.environ.get("CI") != "true":
        return done.stderr.strip().splitlines()[-1].removeprefix("[setup-elixir] ")
    if done.returncode != 0:
        msg = f"scripts/setup-elixir.sh failed ({done.returncode}):\n{mask(done.stderr)}"
        raise RuntimeError(msg)
    build_dir = Path(done.stdout.strip().splitlines()[-1])
    return HareMqBuild(build_dir=build_dir, script=haremq_sources() / "elixir_side.exs")


def mask(text: str) -> str:
    """Hide the password of any URL in ``text`` (stderr of the Elixir side may hold one)."""
    return re.sub(r"(\w+://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)


class ElixirSide:
    """A running ``elixir_side.exs``: its JSON events so far, and its stderr tail."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: list[dict[str, Any]] = []
        self._stderr: collections.deque[str] = collections.deque(maxlen=200)
        assert process.stdout is not None
        assert process.stderr is not None
        self._readers = [
            asyncio.create_task(self._read_events(process.stdout)),
            asyncio.create_task(self._read_stderr(process.stderr)),
        ]

    async def _read_events(self, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            line = raw.decode(errors="replace").strip()
            if not line:
                continue
            try:
                self.events.append(json.loads(line))
            except json.JSONDecodeError:
                self._stderr.append(f"(stdout) {line}")

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            self._stderr.append(raw.decode(errors="replace").rstrip())

    @property
    def stderr(self) -> str:
        return mask("\n".join(self._stderr))

    def of(self, event: str, **fields: Any) -> list[dict[str, Any]]:
        """Events named ``event`` whose fields equal ``fields``."""
        return [
            e
            for e in self.events
            if e.get("event") == event and all(e.get(k) == v for k, v in fields.items())
        ]

    async def wait_for(self, event: str, *, timeout: float = 30.0, **fields: Any) -> dict[str, Any]:
        """The first ``event`` matching ``fields``; fails at the deadline or if HareMq exits."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.of(event, **fields)
            if found:
                return found[0]
            if self.process.returncode is not None and self._readers[0].done():
                msg = (
                    f"HareMq exited ({self.process.returncode}) before {event} {fields}; "
                    f"events: {self.events}\n{self.stderr}"
                )
                raise AssertionError(msg)
            if time.monotonic() > deadline:
                msg = f"no {event} {fields} from HareMq within {timeout} s; events: {self.events}"
                raise AssertionError(f"{msg}\n{self.stderr}")
            await asyncio.sleep(0.05)

    async def wait_exit(self, timeout: float = 30.0) -> int:
        """Wait for the process to end on its own; its exit code."""
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout)
        except asyncio.TimeoutError:
            msg = f"HareMq still running after {timeout} s; events: {self.events}\n{self.stderr}"
            raise AssertionError(msg) from None
        await asyncio.gather(*self._readers, return_exceptions=True)
        return code

    async def close(self) -> None:
        """Close stdin (a consumer stops its worker and exits); kill it if it does not."""
        if self.process.returncode is None:
            if self.process.stdin is not None:
                with contextlib.suppress(ConnectionError):
                    self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_S)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                await self.process.wait()
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


@contextlib.asynccontextmanager
async def run_elixir_side(build: HareMqBuild, *args: str) -> AsyncIterator[ElixirSide]:
    """Start ``elixir_side.exs args...`` in a process group of its own; always stopped after."""
    env = {**os.environ, "RABBITMQ_URL": AMQP_URL.rstrip("/"), "LC_ALL": "C.UTF-8"}
    process = await asyncio.create_subprocess_exec(
        *build.command(*args),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    side = ElixirSide(process)
    try:
        yield side
    finally:
        await side.close()


def consumer_args(
    queue: str,
    *,
    exchange: str | None = None,
    routing_key: str | None = None,
    retry_limit: int | None = None,
    delay_ms: int | None = None,
    delay_cascade: Iterable[int] = (),
    exit_after_ready: bool = False,
) -> list[str]:
    """Command line of a HareMq consumer (``use HareMq.Consumer`` with these options)."""
    args = ["consume", queue]
    if exchange is not None:
        args += ["--exchange", exchange]
    if routing_key is not None:
        args += ["--routing-key", routing_key]
    if retry_limit is not None:
        args += ["--retry-limit", str(retry_limit)]
    if delay_ms is not None:
        args += ["--delay-ms", str(delay_ms)]
    cascade = ",".join(str(ms) for ms in delay_cascade)
    if cascade:
        args += ["--delay-cascade", cascade]
    if exit_after_ready:
        args.append("--exit-after-ready")
    return args


def publisher_args(
    queue: str, *, exchange: str, routing_key: str, bodies: Iterable[dict[str, Any]]
) -> list[str]:
    """Command line of a HareMq publisher sending each body with ``publish_message/1``."""
    args = ["publish", queue, "--exchange", exchange, "--routing-key", routing_key]
    for body in bodies:
        args += ["--json", json.dumps(body)]
    return args
