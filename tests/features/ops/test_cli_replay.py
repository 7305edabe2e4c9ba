"""``hare replay`` moves dead letters on the real broker."""

from __future__ import annotations

import pytest

from faststream_hare import HareBroker
from faststream_hare.ops.cli import main
from tests.support.amqp import depth, wait_depth

pytestmark = pytest.mark.rabbit


async def test_hare_replay_command(prefix: str, broker_url: str) -> None:
    queue = f"{prefix}.cli"
    broker = HareBroker(broker_url)

    @broker.subscriber(queue, retry_limit=0, delay_in_ms=100)
    async def handle(body: str) -> None:
        raise RuntimeError("down")

    async with broker:
        await broker.start()
        for _ in range(3):
            await broker.publish("x", queue=queue)
        await wait_depth(f"{queue}.dead", 3)
    # the app is stopped: replaying puts the messages back in the work queue
    import asyncio

    code = await asyncio.to_thread(main, ["replay", queue, "--count", "2", "--url", broker_url])
    assert code == 0
    assert await depth(queue) == 2
    assert await depth(f"{queue}.dead") == 1
