"""``hare outbox relay`` in a subprocess of its own (to SIGKILL it, or to run two)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from faststream_hare.outbox import OutboxTables
from tests.support.rabbit_admin import AMQP_URL

ROOT = Path(__file__).resolve().parents[2]


class RelayProcess:
    """One ``hare outbox relay tests.support.outbox_app:app``; its stderr goes to a file."""

    def __init__(self, tables: OutboxTables, *, amqp_url: str = AMQP_URL, batch: int = 200) -> None:
        self._log = tempfile.NamedTemporaryFile(prefix="relay-", suffix=".log", delete=False)  # noqa: SIM115
        env = {
            **os.environ,
            "OUTBOX_TABLE": tables.outbox,
            "OUTBOX_INBOX": tables.inbox,
            "OUTBOX_AMQP_URL": amqp_url,
            "OUTBOX_BATCH": str(batch),
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "faststream_hare.ops.cli",
                "outbox",
                "relay",
                "tests.support.outbox_app:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=self._log,
        )

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as a crash."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> tuple[int, int]:
        """SIGTERM and wait; the (published, republished) counts the relay printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)
        text = self.output()
        found = re.search(r"published (\d+) message\(s\), (\d+) of them", text)
        assert found, text
        return int(found[1]), int(found[2])

    def output(self) -> str:
        return Path(self._log.name).read_text()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        Path(self._log.name).unlink(missing_ok=True)
