"""The consumer pool under ``TestRabbitBroker``: names and counts, no channels.

In memory the test broker hands every message straight to the subscriber, so workers have
nothing to consume; this stand-in keeps ``broker.consumer_pool(queue)`` and its API working
so an app that resizes its pool can be tested without RabbitMQ. There is no auto-scaler
(there is no queue depth in memory).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from faststream_hare.scaling.policy import initial_size
from faststream_hare.scaling.pool import ConsumerPool, PoolSubscriber, PoolWorker, worker_name

if TYPE_CHECKING:
    from faststream_hare.runtime import HareRuntime

_POOLS: weakref.WeakKeyDictionary[PoolSubscriber, tuple[object, InMemoryPool]] = (
    weakref.WeakKeyDictionary()
)


class _IdleWorker:
    """A named worker that holds no channel (delivery is the test broker's job)."""

    def __init__(self, name: str, number: int) -> None:
        self.name = name
        self.number = number
        self.active = False

    async def start(self) -> None:
        self.active = True

    async def stop(self) -> None:
        self.active = False


class InMemoryPool(ConsumerPool):
    """``ConsumerPool`` with idle workers and no auto-scaler; ready as soon as it is built."""

    def __init__(self, subscriber: PoolSubscriber, runtime: HareRuntime) -> None:
        super().__init__(subscriber, runtime)
        count = initial_size(subscriber.hare.consumer_count, self.scaling)
        self.scaling = None
        for number in range(1, count + 1):
            worker = _IdleWorker(worker_name(self.queue, number), number)
            worker.active = True
            self._workers[number] = worker

    async def start(self) -> None:
        return None

    def _new_worker(self, number: int) -> PoolWorker:
        return _IdleWorker(worker_name(self.queue, number), number)


def in_memory_pool(
    subscriber: PoolSubscriber, runtime: HareRuntime, session: object
) -> InMemoryPool:
    """The subscriber's in-memory pool, fresh for each ``TestRabbitBroker`` ``session``."""
    cached = _POOLS.get(subscriber)
    if cached is not None and cached[0] is session:
        return cached[1]
    pool = InMemoryPool(subscriber, runtime)
    _POOLS[subscriber] = (session, pool)
    return pool
