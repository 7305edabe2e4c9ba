"""``retry_count`` goes on the wire as an AMQP 64-bit long, so Elixir HareMq reads it."""

from __future__ import annotations

import pytest

from faststream_hare import HareBroker
from tests.support.fault_proxy import FaultProxy
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit


async def test_retry_count_type_byte_is_l(prefix: str) -> None:
    queue = f"{prefix}.wire"
    calls = 0
    async with FaultProxy() as proxy:
        broker = HareBroker(f"amqp://guest:guest@127.0.0.1:{proxy.port}/")

        @broker.subscriber(queue, retry_limit=0, delay_in_ms=100)
        async def handle(body: str) -> None:
            nonlocal calls
            calls += 1
            raise RuntimeError("to the dead queue")

        async with broker:
            await broker.start()
            await broker.publish("x", queue=queue)
            await eventually(lambda: b"hare-exception" in proxy.sent)

    # field name (short string: length byte + name), then type 'l', then 8 bytes big-endian
    assert b"\x0bretry_countl" + (1).to_bytes(8, "big", signed=True) in proxy.sent
    assert calls == 1
