"""Shared fixtures of the fault-injection suite: fault proxies and an exact account of ids.

Every fault test publishes messages with unique ids and settles the account at the end:
each id handled at least once or found in ``Q.dead``; ``lost`` must be 0; duplicates are
counted and printed (``[fault] lost=0 duplicates=3 recovery_s=0.8``; run with ``-s``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable

import aio_pika
import pytest

from tests.support.amqp import drain
from tests.support.broker import AMQP_PORT, STREAM_PORT
from tests.support.fault_proxy import FaultProxy
from tests.support.rabbit_admin import AMQP_URL


@pytest.fixture
async def fault_proxy() -> AsyncIterator[FaultProxy]:
    """A FaultProxy in front of RabbitMQ's AMQP port: give the app ``fault_proxy.url()``."""
    async with FaultProxy(target_port=AMQP_PORT) as proxy:
        yield proxy


@pytest.fixture
async def stream_proxy() -> AsyncIterator[FaultProxy]:
    """A FaultProxy in front of the stream port: ``stream_proxy.url("rabbitmq-stream")``."""
    async with FaultProxy(target_port=STREAM_PORT) as proxy:
        yield proxy


def reached(value: Callable[[], int], target: int) -> Callable[[], bool]:
    """A condition for ``eventually``: ``value() >= target`` (``target`` is bound now, so it
    is safe in a loop)."""
    return lambda: value() >= target


class Account:
    """Which ids were published, how often each was handled, which ended in ``Q.dead``."""

    def __init__(self) -> None:
        self.published: list[str] = []
        self.handled: Counter[str] = Counter()
        self.dead: Counter[str] = Counter()

    def publish(self, message_id: str) -> str:
        self.published.append(message_id)
        return message_id

    def handle(self, message_id: str) -> None:
        self.handled[message_id] += 1

    def dead_letter(self, ids: Iterable[str]) -> None:
        self.dead.update(ids)

    @property
    def settled(self) -> int:
        """Published ids handled at least once or dead-lettered."""
        return sum(1 for i in set(self.published) if self.handled[i] or self.dead[i])

    @property
    def lost(self) -> list[str]:
        return sorted(i for i in set(self.published) if not (self.handled[i] or self.dead[i]))

    @property
    def duplicates(self) -> int:
        """Extra deliveries: every handling or dead copy of an id beyond its first."""
        total = self.handled + self.dead
        return sum(count - 1 for count in total.values() if count > 1)

    def report(self, label: str, **figures: float | int | str) -> str:
        """Print (and return) the one-line account of a fault test."""
        parts = [f"lost={len(self.lost)}", f"duplicates={self.duplicates}"]
        parts += [
            f"{name}={value:.2f}" if isinstance(value, float) else f"{name}={value}"
            for name, value in figures.items()
        ]
        line = f"[fault] {label}: " + " ".join(parts)
        print(line)
        return line


@pytest.fixture
def account() -> Account:
    return Account()


async def dead_ids(queue: str, key: str = "id") -> list[str]:
    """The ids (``body[key]``) of every message in ``<queue>.dead`` right now (drained)."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        dead = await channel.declare_queue(f"{queue}.dead", passive=True)
        return [str(json.loads(m.body)[key]) for m in await drain(dead)]
    finally:
        await connection.close()
