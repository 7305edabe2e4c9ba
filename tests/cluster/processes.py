"""Run another Python process (an app or a publisher) and read its output as it comes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence

from tests.cluster.cluster import ROOT


class Process:
    """A child process whose stdout+stderr lines are collected by a thread."""

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.args = list(args)
        self.lines: list[str] = []
        self._process = subprocess.Popen(
            self.args,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @classmethod
    def python(cls, *args: str, env: dict[str, str] | None = None) -> Process:
        return cls([sys.executable, *args], env)

    @classmethod
    def faststream(
        cls, app: str, env: dict[str, str] | None = None, extra: Sequence[str] = ()
    ) -> Process:
        """``faststream run APP EXTRA...`` from this virtualenv."""
        command = os.path.join(os.path.dirname(sys.executable), "faststream")
        return cls([command, "run", app, *extra], env)

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    def last(self, prefix: str) -> str | None:
        """The last output line starting with ``prefix`` (without it), if any."""
        for line in reversed(self.lines):
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        return None

    async def wait_for(
        self, condition: Callable[[], bool], what: str, timeout: float, *, exit_ok: bool = False
    ) -> None:
        """Wait until ``condition()``; fail with the process output when it exits or times out.

        ``exit_ok``: a clean exit (code 0) is not a failure; the condition may still come true
        (a publisher that finished before the consumer caught up).
        """
        deadline = time.monotonic() + timeout
        while not condition():
            if not self.running and not (exit_ok and self._process.returncode == 0):
                self._reader.join(timeout=5)  # the last lines may still be in the pipe
                if condition():
                    return
                raise AssertionError(f"{what}: the process exited early:\n{self.output[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout} s:\n{self.output[-3000:]}")
            await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: the process dies without closing anything (a crash)."""
        if self.running:
            self._process.kill()
        self._process.wait(timeout=30)

    def stop(self) -> int:
        """SIGINT (a clean stop), then SIGKILL if it hangs; returns the exit code."""
        if self.running:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=30)
        self._reader.join(timeout=5)
        return self._process.returncode
