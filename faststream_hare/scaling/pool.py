"""A pool of named workers (``<queue>.W<n>``) consuming one queue, each on its own channel.

A worker run cluster-wide once holds the exclusive queue ``hare.lock.<queue>.W<n>``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Protocol, cast

from faststream.middlewares import AckPolicy

from faststream_hare._internal.masking import mask_text
from faststream_hare.errors import HareError
from faststream_hare.scaling.autoscaler import AutoScaler
from faststream_hare.scaling.depth import DepthSampler
from faststream_hare.scaling.policy import initial_size
from faststream_hare.scaling.worker import Worker, WorkerConfig
from faststream_hare.telemetry import signals

if TYPE_CHECKING:
    from aio_pika import IncomingMessage
    from aio_pika.abc import AbstractIncomingMessage
    from faststream.rabbit.schemas import Channel

    from faststream_hare.config.options import ResolvedAutoScaling
    from faststream_hare.config.subscriber import SubscriberOptions
    from faststream_hare.runtime import HareRuntime

logger = logging.getLogger("faststream_hare.scaling")


LOCK_PREFIX = "hare.lock."


def worker_name(queue: str, number: int) -> str:
    """The name of worker ``number`` of ``queue`` (numbers start at 1)."""
    return f"{queue}.W{number}"


def lock_queue_name(queue: str, number: int) -> str:
    """The exclusive queue whose owner runs worker ``number`` cluster-wide."""
    return f"{LOCK_PREFIX}{worker_name(queue, number)}"


def next_free_number(taken: set[int]) -> int:
    """The lowest worker number not in use (``n + 1`` while ``W1..Wn`` are contiguous)."""
    number = 1
    while number in taken:
        number += 1
    return number


class PoolSubscriber(Protocol):
    """What a pool needs of its hare subscriber."""

    @property
    def hare(self) -> SubscriberOptions: ...

    @property
    def queue_name(self) -> str: ...

    @property
    def channel(self) -> Channel | None: ...

    @property
    def ack_policy(self) -> AckPolicy: ...

    @property
    def consume_args(self) -> dict[str, Any]: ...

    async def consume(self, msg: IncomingMessage) -> Any: ...

    async def wait_handoffs(self, channel: object = None) -> None: ...


class PoolWorker(Protocol):
    """What the pool needs of a worker (a real ``Worker``, or a stand-in in memory)."""

    name: str
    number: int

    @property
    def active(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class ConsumerPool:
    """Workers of one hare subscriber (docs/scaling.md).

    Every change of membership (the API, the auto-scaler, shutdown) runs under one lock, so
    the numbering stays contiguous and a worker is never removed while it is being added.
    """

    def __init__(self, subscriber: PoolSubscriber, runtime: HareRuntime) -> None:
        self.subscriber = subscriber
        self.runtime = runtime
        self.queue = subscriber.queue_name
        settings = runtime.settings
        self.drain_timeout_s = settings.shutdown_drain_timeout_ms / 1000
        self.retry_interval_s = settings.reconnect_interval_ms / 1000
        scaling = subscriber.hare.auto_scaling
        self.scaling: ResolvedAutoScaling | None = (
            scaling.resolve(settings.auto_scaler) if scaling is not None else None
        )
        self.cluster_unique = subscriber.hare.cluster_unique
        self._workers: dict[int, PoolWorker] = {}
        self._membership = asyncio.Lock()
        self._autoscaler: AutoScaler | None = None
        self._stopped = False

    @property
    def size(self) -> int:
        """Workers of this pool in this process (stand-by cluster-unique workers included)."""
        return len(self._workers)

    def list_consumers(self) -> list[str]:
        """Worker names, lowest number first."""
        return [self._workers[number].name for number in sorted(self._workers)]

    def active_consumers(self) -> list[str]:
        """Workers consuming right now (cluster-unique: the ones whose lock this process holds)."""
        return [
            self._workers[number].name
            for number in sorted(self._workers)
            if self._workers[number].active
        ]

    @property
    def autoscaler(self) -> AutoScaler | None:
        """The pool's auto-scaler, when the subscriber has ``auto_scaling``."""
        return self._autoscaler

    async def start(self) -> None:
        """Start the initial workers, then the auto-scaler."""
        count = initial_size(self.subscriber.hare.consumer_count, self.scaling)
        async with self._membership:
            try:
                for _ in range(count):
                    await self._add()
            except BaseException:
                # Leave nothing behind when the subscriber fails to start.
                await self._stop_all()
                raise
        if self.scaling is not None:
            self._autoscaler = AutoScaler(
                queue=self.queue,
                pool=self,
                sampler=DepthSampler(self.queue, self.runtime.connect),
                config=self.scaling,
                sender=self.runtime.sender,
            )
            self._autoscaler.start()

    async def stop(self) -> None:
        """Stop the auto-scaler, then drain and close every worker at once."""
        self._stopped = True
        if self._autoscaler is not None:
            await self._autoscaler.stop()
            self._autoscaler = None
        async with self._membership:
            await self._stop_all()

    async def add_consumer(self) -> str:
        """Start one more worker (the lowest free number); returns its name."""
        async with self._membership:
            self._check_running()
            return (await self._add()).name

    async def remove_consumer(self) -> str | None:
        """Drain and remove the highest-numbered worker; ``None`` when the pool is empty."""
        async with self._membership:
            self._check_running()
            return await self._remove_highest()

    async def scale_to(self, target: int) -> int:
        """Add or remove workers until ``size == target``; returns the size reached."""
        async with self._membership:
            while self.size < target and not self._stopped:
                try:
                    await self._add()
                except Exception as exc:
                    logger.warning(
                        "Cannot add a worker to queue '%s' (%s); pool stays at %d",
                        self.queue,
                        mask_text(repr(exc)),
                        self.size,
                    )
                    break
            while self.size > target and not self._stopped:
                await self._remove_highest()
            return self.size

    async def _stop_all(self) -> None:
        workers = list(self._workers.values())
        self._workers.clear()
        await asyncio.gather(*(worker.stop() for worker in workers))
        if workers:
            self._resized("stopped", None)

    async def _add(self) -> PoolWorker:
        number = next_free_number(set(self._workers))
        worker = self._new_worker(number)
        await worker.start()
        self._workers[number] = worker
        self._resized("added", worker.name)
        return worker

    def _new_worker(self, number: int) -> PoolWorker:
        return Worker(
            worker_name(self.queue, number),
            number,
            config=self._worker_config(number),
            handle=self._handle,
            connect=self.runtime.connect,
            wait_link=self.runtime.wait_reconnected,
            current_connection=lambda: self.runtime.connection,
            settle_pending=self.subscriber.wait_handoffs,
        )

    async def _remove_highest(self) -> str | None:
        if not self._workers:
            return None
        worker = self._workers.pop(max(self._workers))
        await worker.stop()
        self._resized("removed", worker.name)
        return worker.name

    def _resized(self, change: str, consumer: str | None) -> None:
        """Signal the new size (metrics keep ``hare_pool_consumers`` from it)."""
        signals.emit(
            signals.consumer_pool_resized,
            self.runtime.sender,
            {"size": self.size, "system_time": signals.system_time()},
            {"queue": self.queue, "consumer": consumer, "change": change},
        )

    def _worker_config(self, number: int) -> WorkerConfig:
        subscriber = self.subscriber
        channel_prefetch = subscriber.channel.prefetch_count if subscriber.channel else None
        return WorkerConfig(
            queue=self.queue,
            prefetch_count=channel_prefetch or subscriber.hare.prefetch_count,
            retry_interval_s=self.retry_interval_s,
            drain_timeout_s=self.drain_timeout_s,
            no_ack=subscriber.ack_policy is AckPolicy.ACK_FIRST,
            consume_arguments=dict(subscriber.consume_args),
            lock_name=lock_queue_name(self.queue, number) if self.cluster_unique else None,
        )

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        await self.subscriber.consume(cast("IncomingMessage", message))

    def _check_running(self) -> None:
        if self._stopped:
            msg = f"The consumer pool of queue '{self.queue}' is stopped; start the broker first."
            raise HareError(msg)
