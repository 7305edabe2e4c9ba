"""A ``redis-server`` of a test's own, on a free port (never the machine's Redis)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ThrowawayRedis:
    """A ``redis-server`` of the test's own: no persistence, its own directory, one port;
    ``options`` are more ``redis-server`` flags (a password, a unix socket)."""

    def __init__(self, directory: Path, *options: str, password: str = "") -> None:
        self.directory = directory
        self.port = free_port()
        self.password = password
        self.options = (*options, *(("--requirepass", password) if password else ()))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        credentials = f":{self.password}@" if self.password else ""
        return f"redis://{credentials}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--daemonize", "no"),
            *("--dir", str(self.directory)),
            *self.options,
        ]
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def stop(self) -> None:
        """Kill the server (as a crash would) and wait until it is gone."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait(timeout=10)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open, nothing is answered."""
        assert self._process is not None
        os.kill(self._process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        os.kill(self._process.pid, signal.SIGCONT)

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as link:
                auth = f"AUTH {self.password}\r\n".encode() if self.password else b""
                link.sendall(auth + b"PING\r\n")
                return b"+PONG" in link.recv(64)
        except OSError:
            return False
