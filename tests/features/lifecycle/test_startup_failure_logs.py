"""A program whose start-up fails after the broker connected ends without a false outage.

Uvicorn's "Application startup failed. Exiting." (or any start-up error) ends the event loop
with the broker still connected; aio-pika then reports its connection closed with
``CancelledError``. That is the program ending, not a lost connection to reconnect.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.rabbit

_PROGRAM = textwrap.dedent(
    """
    import asyncio, logging, sys
    logging.basicConfig(level=logging.INFO)
    from faststream_hare import HareBroker

    async def main():
        broker = HareBroker(sys.argv[1])

        @broker.subscriber(sys.argv[2])
        async def handle(body): ...

        await broker.start()
        raise RuntimeError("startup failed")  # the broker is never closed

    asyncio.run(main())
    """
)


def test_failed_startup_is_not_reported_as_a_lost_connection(prefix: str, broker_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, broker_url, f"{prefix}.q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "RuntimeError: startup failed" in done.stderr
    assert "lost (" not in done.stderr
    assert "reconnecting" not in done.stderr
