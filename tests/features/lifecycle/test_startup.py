"""RabbitMQ unreachable when the app starts: hare keeps trying, then says so in one sentence."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from faststream_hare import HareBroker, HareConnectionError, HareSettings, Unique, signals
from tests.support.fault_proxy import FaultProxy

pytestmark = pytest.mark.rabbit

ROOT = Path(__file__).resolve().parents[3]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_unreachable_broker_fails_after_the_startup_timeout_in_one_sentence(
    prefix: str,
) -> None:
    port = _closed_port()
    url = f"amqp://guest:s3cret@127.0.0.1:{port}/"
    broker = HareBroker(url, settings=HareSettings(startup_timeout_ms=1_500))
    retries: list[int] = []

    def on_reconnecting(sender: object, measurements: dict[str, Any], metadata: Any) -> None:
        if sender is broker:
            retries.append(measurements["retry_delay_ms"])

    @broker.subscriber(f"{prefix}.q", retry_limit=1)
    async def handle(body: str) -> None: ...

    signals.connection_reconnecting.connect(on_reconnecting)
    try:
        with pytest.raises(HareConnectionError) as caught:
            await broker.start()
    finally:
        signals.connection_reconnecting.disconnect(on_reconnecting)
        await broker.stop()
    text = str(caught.value)
    assert f"amqp://guest:***@127.0.0.1:{port}/" in text
    assert "s3cret" not in text
    assert "start RabbitMQ there, or set HARE_MQ_URL" in text
    assert "\n" not in text  # one sentence
    assert text.endswith("to where it runs.")
    assert retries[0] == 500  # growing pauses (the last one is cut to the deadline)
    assert retries[1] > retries[0]


async def test_a_broker_that_comes_up_during_the_wait_is_used(prefix: str) -> None:
    async with FaultProxy() as proxy:
        proxy.block()  # RabbitMQ "is down"
        broker = HareBroker(proxy.url(), settings=HareSettings(startup_timeout_ms=20_000))
        handled: list[str] = []

        @broker.subscriber(f"{prefix}.late", retry_limit=1)
        async def handle(body: str) -> None:
            handled.append(body)

        async def come_up_later() -> None:
            await asyncio.sleep(1.0)
            proxy.unblock()

        opener = asyncio.create_task(come_up_later())
        try:
            await broker.start()
            await broker.publish("hello", queue=f"{prefix}.late")
            for _ in range(100):
                if handled:
                    break
                await asyncio.sleep(0.05)
        finally:
            await opener
            await broker.stop()
    assert handled == ["hello"]


def test_faststream_run_with_rabbitmq_down_ends_in_a_short_message(tmp_path: Path) -> None:
    app = tmp_path / "down_app.py"
    app.write_text(
        "from faststream import FastStream\n"
        "from faststream_hare import HareBroker\n"
        "broker = HareBroker()\n"
        "app = FastStream(broker)\n"
        "@broker.subscriber('down_app_q', retry_limit=1)\n"
        "async def handle(body: str) -> None: ...\n"
    )
    env = {
        **os.environ,
        "HARE_MQ_URL": f"amqp://guest:s3cret@127.0.0.1:{_closed_port()}/",
        "HARE_MQ_STARTUP_TIMEOUT_MS": "1000",
        "PYTHONPATH": str(tmp_path),
    }
    result = subprocess.run(
        [str(Path(sys.executable).parent / "faststream"), "run", "down_app:app"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    output = result.stdout + result.stderr
    print(f"[startup] faststream run printed {len(output.splitlines())} lines")
    assert result.returncode == 1
    assert len(output.splitlines()) <= 5  # not a page of traceback
    assert "Cannot reach RabbitMQ at amqp://guest:***@127.0.0.1:" in output
    assert "s3cret" not in output


async def test_an_unreachable_redis_dedup_store_fails_start_in_one_sentence(
    prefix: str, broker_url: str
) -> None:
    port = _closed_port()
    settings = HareSettings(
        startup_timeout_ms=1_000, dedup_url=f"redis://:s3cret@127.0.0.1:{port}/0"
    )
    broker = HareBroker(broker_url, settings=settings)
    broker.publisher(f"{prefix}.orders", unique=Unique(period_ms=1_000))
    try:
        with pytest.raises(HareConnectionError) as caught:
            await broker.start()
    finally:
        await broker.stop()
    text = str(caught.value)
    assert "Cannot reach the Redis dedup store at redis://" in text
    assert "s3cret" not in text
    assert "HARE_MQ_DEDUP_URL" in text
