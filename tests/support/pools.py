"""Helpers for pool, auto-scaler and cluster-lock tests (exact counts over AMQP)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, NamedTuple

import aio_pika

from faststream_hare import HareBroker, HareSettings
from tests.support.rabbit_admin import AMQP_URL, RabbitAdmin


def make_broker(
    prefix: str, suffix: str = "a", *, graceful_timeout: float = 15.0, **settings: Any
) -> HareBroker:
    """A broker whose connection is named ``<prefix>-<suffix>`` (so a test cuts only its own)."""
    values = {"reconnect_interval_ms": 300, "shutdown_drain_timeout_ms": 5_000, **settings}
    return HareBroker(
        f"{AMQP_URL.rstrip('/')}/?name={prefix}-{suffix}",
        settings=HareSettings(**values),
        graceful_timeout=graceful_timeout,
        logger=None,
    )


@asynccontextmanager
async def running(broker: HareBroker) -> AsyncIterator[HareBroker]:
    """``start()`` … ``stop()`` (``async with broker`` would connect before settings apply)."""
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


class QueueState(NamedTuple):
    ready: int
    consumers: int


async def queue_state(name: str) -> QueueState:
    """Ready messages and consumers of ``name`` right now (the HTTP API lags by seconds)."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        result = queue.declaration_result
        return QueueState(int(result.message_count or 0), int(result.consumer_count or 0))
    finally:
        await connection.close()


async def wait_state(
    name: str, predicate: Callable[[QueueState], bool], timeout: float = 15.0
) -> QueueState:
    deadline = time.monotonic() + timeout
    state = await queue_state(name)
    while not predicate(state):
        if time.monotonic() > deadline:
            raise AssertionError(f"queue {name} never matched; last state {state}")
        await asyncio.sleep(0.05)
        state = await queue_state(name)
    return state


async def close_connections(admin: RabbitAdmin, name: str, timeout: float = 15.0) -> None:
    """Close this test's connections from the broker side (listed ~1 s after they open)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(admin.close_connections, name):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"no connection named {name}*")
