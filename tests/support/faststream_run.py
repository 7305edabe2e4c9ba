"""Run an example app with ``faststream run`` and read its output until it has done its work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_app_until(app: str, done: Callable[[str], bool], timeout: float = 30.0) -> tuple[str, int]:
    """Start ``faststream run <app>``, stop it with SIGINT once ``done(output)``; return both."""
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "faststream"), "run", app],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done("".join(lines)):
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        reader.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()
    return "".join(lines), process.returncode
