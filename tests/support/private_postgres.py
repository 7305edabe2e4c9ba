"""A PostgreSQL 15 server of a test's own, to restart without touching the shared one (5432).

``initdb`` into a temporary directory owned by the ``postgres`` user (the server refuses to run
as root), trust authentication, listening on 127.0.0.1 and a port of its own; ``pg_ctl`` starts,
restarts and stops it. Its DSN names the ``postgres`` database.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.private_rabbit import port_open

PG_BIN = Path("/usr/lib/postgresql/15/bin")
OWNER = "postgres"


class PrivatePostgres:
    def __init__(self, port: int) -> None:
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="hare-pg-"))
        shutil.chown(self.dir, OWNER, OWNER)
        self.data = self.dir / "data"
        self.dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        self._running = False
        self._as_owner(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.dir}'\n"
                "max_connections = 60\n"
            )

    def _as_owner(self, *command: str, timeout: float = 120) -> None:
        done = subprocess.run(
            ["runuser", "-u", OWNER, "--", *command],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.dir,
        )
        if done.returncode != 0:
            msg = f"{Path(command[0]).name} failed: {done.stderr.strip() or done.stdout.strip()}"
            raise RuntimeError(msg)

    def _pg_ctl(self, action: str, *args: str) -> None:
        self._as_owner(
            str(PG_BIN / "pg_ctl"), action, "-D", str(self.data), "-w", "-t", "60", *args
        )

    def start(self) -> float:
        """Start the server; the seconds until it accepts connections."""
        if port_open(self.port):
            msg = f"port {self.port} for the test's PostgreSQL is taken; is an old one left over?"
            raise RuntimeError(msg)
        started = time.monotonic()
        self._pg_ctl("start", "-l", str(self.dir / "server.log"))
        self._running = True
        return time.monotonic() - started

    def restart(self, mode: str = "fast") -> None:
        """``pg_ctl restart -m fast``: every session is closed, as a service restart does;
        ``mode="immediate"``: a crash (no checkpoint; what was not flushed to disk is lost)."""
        self._pg_ctl("restart", "-m", mode, "-l", str(self.dir / "server.log"))

    def close(self) -> None:
        if self._running:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self._pg_ctl("stop", "-m", "immediate")
            self._running = False
        shutil.rmtree(self.dir, ignore_errors=True)
