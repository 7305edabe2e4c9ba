"""``stop()`` always returns, also when a cancel is swallowed.

On Python 3.11 ``asyncio.wait_for`` swallows a cancel that arrives in the loop turn its inner
await completes (CPython gh-86296). The waits below emulate exactly that — the cancel is taken
and the wait returns normally — in a pool worker re-attaching to a missing queue and in a stream
consumer reconnecting to a stream port that refuses connections. ``stop()`` must still return
within its bound.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aio_pika
import pytest

from faststream_hare import signals
from faststream_hare._internal import compat
from faststream_hare.scaling.worker import Worker, WorkerConfig
from tests.faults.test_stream_cuts import cut_stream_link, publish_ids, stream_broker
from tests.support.fault_proxy import FaultProxy
from tests.support.rabbit_admin import AMQP_URL, RabbitAdmin
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit

STOP_BOUND_S = 15.0


async def wait_like_python_311(pause: float) -> None:
    """A wait whose ``wait_for`` took the cancel: it returns as if the pause had ended."""
    try:
        await asyncio.sleep(pause)
    except asyncio.CancelledError:
        return


async def test_a_worker_stops_although_its_wait_swallowed_the_cancel(prefix: str) -> None:
    queue = f"{prefix}.w"
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True)

        async def handle(message: Any) -> None:
            await message.ack()

        async def connect() -> Any:
            return connection

        worker = Worker(
            f"{queue}-1",
            1,
            config=WorkerConfig(
                queue=queue, prefetch_count=1, retry_interval_s=0.05, drain_timeout_s=1.0
            ),
            handle=handle,
            connect=connect,
            wait_link=wait_like_python_311,
            current_connection=lambda: connection,
        )
        await worker.start()
        await channel.queue_delete(queue)  # the worker re-attaches, again and again
        await eventually(lambda: not worker.active)
        started = time.monotonic()
        try:
            async with compat.timeout(STOP_BOUND_S):
                await worker.stop()
        finally:
            took = time.monotonic() - started
            print(f"[around] worker stop with a swallowed cancel: {took:.2f} s")
        assert took < STOP_BOUND_S
    finally:
        await connection.close()


async def test_a_stream_consumer_stops_although_its_wait_swallowed_the_cancel(
    prefix: str, admin: RabbitAdmin, stream_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue, name = f"{prefix}.s", f"{prefix}-reader"
    broker = stream_broker(prefix, stream_proxy)
    reconnecting: list[Any] = []

    @broker.subscriber(queue, stream=True, stream_offset="first", stream_consumer_name=name)
    async def read(body: dict[str, str]) -> None: ...

    def on_reconnecting(sender: Any, **kw: Any) -> None:
        reconnecting.append(kw)

    await publish_ids(queue, ["s-1"])
    with signals.connection_reconnecting.connected_to(on_reconnecting):
        await broker.start()
        try:
            monkeypatch.setattr(
                broker.hare_runtime, "wait_reconnected", wait_like_python_311, raising=False
            )
            await cut_stream_link(admin, stream_proxy, f"{prefix}.stream.", set())
            stream_proxy.block()  # before the first reconnect (0.5 s later): it keeps failing
            await eventually(lambda: len(reconnecting) >= 2, timeout=20)
        finally:
            started = time.monotonic()
            try:
                async with compat.timeout(STOP_BOUND_S):
                    await broker.stop()
            finally:
                took = time.monotonic() - started
                print(f"[around] stream stop with a swallowed cancel: {took:.2f} s")
    assert took < STOP_BOUND_S
