"""One scenario, two transports: in memory under ``TestRabbitBroker`` and on the real RabbitMQ.

A feature's test takes the ``transport`` fixture (``tests/features/conftest.py``) and is written
once, as FastStream's ``tests/brokers/base`` writes a scenario once for the test client and the
real broker. Only what a transport cannot show stays behind ``transport.rabbit`` (``x-death``,
queue depths) or ``transport.memory`` (the mock of ``TestRabbitBroker``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from faststream.rabbit import TestRabbitBroker

from faststream_hare import HareBroker
from faststream_hare.testing import DeadLetter, dead_letters
from tests.support.amqp import depths, drain_named, wait_depth
from tests.support.rabbit_admin import AMQP_URL


class Transport:
    """Where the scenario runs: ``memory`` or ``rabbit``; names are unique to the test."""

    def __init__(self, kind: str, prefix: str) -> None:
        self.kind = kind
        self.prefix = prefix

    def __repr__(self) -> str:
        return self.kind

    @property
    def memory(self) -> bool:
        return self.kind == "memory"

    @property
    def rabbit(self) -> bool:
        return self.kind == "rabbit"

    def queue(self, name: str) -> str:
        """A queue name of this test's own (the real broker is shared by every test)."""
        return f"{self.prefix}.{name}"

    def broker(self, **options: Any) -> HareBroker:
        """A ``HareBroker``; on RabbitMQ its connection is named after the test."""
        if self.memory:
            return HareBroker(**options)
        return HareBroker(f"{AMQP_URL.rstrip('/')}/?name={self.prefix}", **options)

    @asynccontextmanager
    async def running(self, broker: HareBroker) -> AsyncIterator[HareBroker]:
        """The broker started (under ``TestRabbitBroker`` in memory), stopped after."""
        if self.memory:
            async with TestRabbitBroker(broker):
                yield broker
            return
        await broker.start()
        try:
            yield broker
        finally:
            await broker.stop()

    async def dead(
        self, broker: HareBroker, queue: str, count: int | None = None, timeout: float = 20.0
    ) -> list[DeadLetter]:
        """``queue``'s dead copies, oldest first (on RabbitMQ: once ``count`` are there, and
        taken out of ``Q.dead``)."""
        if self.memory:
            letters = dead_letters(broker, queue)
        else:
            if count is not None:
                await wait_depth(f"{queue}.dead", count, timeout=timeout)
            letters = [
                DeadLetter(
                    body=m.body,
                    headers=dict(m.headers),
                    content_type=m.content_type,
                    message_id=m.message_id,
                    correlation_id=m.correlation_id,
                )
                for m in await drain_named(f"{queue}.dead")
            ]
        if count is not None:
            assert len(letters) == count, f"{queue}.dead holds {len(letters)}, expected {count}"
        return letters

    async def wait_dead(self, broker: HareBroker, queue: str, count: int) -> None:
        """Wait until ``Q.dead`` holds ``count`` copies, leaving them there."""
        if self.memory:
            assert len(dead_letters(broker, queue)) == count
        else:
            await wait_depth(f"{queue}.dead", count)

    async def quiet(self, seconds: float = 0.5) -> None:
        """On RabbitMQ, give anything that should not come a chance to arrive."""
        if self.rabbit:
            await asyncio.sleep(seconds)

    async def assert_empty(self, *queues: str) -> None:
        """No message waits in any of ``queues`` (in memory: none is held for them)."""
        if self.rabbit:
            assert await depths(*queues) == dict.fromkeys(queues, 0)
