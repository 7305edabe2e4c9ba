"""One named pool worker: its own channel, its own consumer, its own in-flight count.

A worker re-attaches itself after its channel or consumer is lost (connection drop, queue
deleted), and with a lock name it only consumes while it holds that cluster-wide lock.
Stopping it: cancel the consumer, wait for in-flight handlers (capped),
then close the channel so whatever it had not finished goes back to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from faststream_hare._internal.channels import (
    OPERATION_TIMEOUT_S,
    bounded,
    close_quietly,
    consumer_gone,
    on_broker_cancel,
    open_plain_channel,
)
from faststream_hare._internal.masking import mask_text
from faststream_hare._internal.patience import OUTAGE_PAUSE_MAX_S
from faststream_hare._internal.tasks import end_tasks
from faststream_hare.scaling import locks

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aio_pika.abc import (
        AbstractChannel,
        AbstractConnection,
        AbstractIncomingMessage,
        AbstractQueue,
    )
    from pamqp.commands import Basic

logger = logging.getLogger("faststream_hare.scaling")

#: First pause before re-attaching after a loss (doubles up to ``retry_interval_s``).
RETRY_FIRST_PAUSE_S = 0.5


class WorkerState(enum.Enum):
    """Where a worker is in its life."""

    STARTING = "starting"
    ACTIVE = "active"  # consuming (and holding its lock, for cluster-unique workers)
    STANDBY = "standby"  # another process holds its lock; retrying
    RECONNECTING = "reconnecting"  # its channel or consumer was lost; retrying
    STOPPED = "stopped"


@dataclass(frozen=True, kw_only=True)
class WorkerConfig:
    """What a worker needs to know about its queue and its broker's settings."""

    queue: str
    prefetch_count: int
    retry_interval_s: float
    drain_timeout_s: float
    no_ack: bool = False
    consume_arguments: dict[str, Any] = field(default_factory=dict)
    lock_name: str | None = None


class Worker:
    """Consumes ``config.queue`` on a channel of its own and hands messages to ``handle``."""

    def __init__(
        self,
        name: str,
        number: int,
        *,
        config: WorkerConfig,
        handle: Callable[[AbstractIncomingMessage], Awaitable[Any]],
        connect: Callable[[], Awaitable[AbstractConnection]],
        wait_link: Callable[[float], Awaitable[None]] | None = None,
        current_connection: Callable[[], AbstractConnection | None] | None = None,
        settle_pending: Callable[[object], Awaitable[None]] | None = None,
    ) -> None:
        self.name = name
        self.number = number
        self.config = config
        self.state = WorkerState.STARTING
        self._handle = handle
        self._connect = connect
        self._wait_link = wait_link or asyncio.sleep
        self._current_connection = current_connection or (lambda: None)
        self._settle_pending = settle_pending
        self._channel: AbstractChannel | None = None
        #: aiormq's channel under ``_channel``: its messages' handoffs are this worker's.
        self._underlay: object = None
        #: The broker's ``basic.cancel`` reaches ``_on_broker_cancel`` (aiormq 7; on 6.9 the
        #: consumer's disappearance is watched instead).
        self._cancel_hooked = False
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._lost = asyncio.Event()
        self._stopping = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._failures = 0

    @property
    def in_flight(self) -> int:
        """Handlers of this worker running right now."""
        return self._in_flight

    @property
    def active(self) -> bool:
        """True while the worker consumes (for a cluster-unique worker: holds its lock)."""
        return self.state is WorkerState.ACTIVE

    async def start(self) -> None:
        """Attach once (errors propagate), then keep the worker attached in the background."""
        attached = await self._attach()
        self._task = asyncio.create_task(self._supervise(attached), name=f"hare-{self.name}")

    async def stop(self) -> None:
        """Cancel the consumer, drain in-flight handlers (capped), release, close the channel."""
        self._stopping = True
        if self._task is not None:  # cancelled again if a wait swallowed it (tasks.py)
            await end_tasks([self._task])
            self._task = None
        channel, queue, tag = self._channel, self._queue, self._consumer_tag
        self._channel = self._queue = self._consumer_tag = None
        if channel is not None and not channel.is_closed and queue is not None and tag:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(queue.cancel(tag), OPERATION_TIMEOUT_S)
        await self._drain(self.config.drain_timeout_s)
        if self._settle_pending is not None and self._underlay is not None:
            await self._settle_pending(self._underlay)  # copies in flight ack on this channel
        if self.config.lock_name is not None:
            if channel is not None and not channel.is_closed:
                await locks.release(channel, self.config.lock_name)
            else:  # the worker lost its channel first: the connection still holds the lock
                await self._release_lock()
        await close_quietly(channel)
        self.state = WorkerState.STOPPED

    async def _drain(self, timeout_s: float) -> None:
        if self._idle.is_set():
            return
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except asyncio.TimeoutError:
            logger.warning(
                "Worker %s: drain timed out: %d handler(s) still running; their messages "
                "go back to the queue",
                self.name,
                self._in_flight,
            )

    async def _supervise(self, attached: bool) -> None:
        """Wait for a loss, then re-attach: at once when the connection comes back, else
        after a pause growing from 0.5 s to ``retry_interval_s``."""
        pause = RETRY_FIRST_PAUSE_S
        # ``_stopping`` is checked after every await: a cancel swallowed by a ``wait_for``
        # (Python 3.11) must not keep this loop going (``_internal/tasks.py``)
        while not self._stopping:
            if attached:
                await self._wait_lost()
                if self._stopping:
                    return
                await self._detach()
                pause = RETRY_FIRST_PAUSE_S
            await self._wait_link(pause)
            if self._stopping:
                return
            pause = min(pause * 2, max(self._pause_limit(), RETRY_FIRST_PAUSE_S))
            try:
                attached = await self._attach()
            except Exception as exc:
                # Warn once per streak of failures; the retries after it go to debug.
                # (INFO: a lost connection already has its one WARNING)
                level = logging.DEBUG if self._failures else logging.INFO
                self._failures += 1
                logger.log(
                    level,
                    "Worker %s cannot attach to queue '%s' yet (%s); trying again",
                    self.name,
                    self.config.queue,
                    mask_text(repr(exc)),
                )
                attached = False

    def _pause_limit(self) -> float:
        """``retry_interval_s``; at most ``OUTAGE_PAUSE_MAX_S`` while the link is down, so the
        worker consumes again within about a second of the broker accepting connections."""
        connection = self._current_connection()
        link_up = connection is not None and connection.connected.is_set()
        limit = self.config.retry_interval_s
        return limit if link_up else min(limit, OUTAGE_PAUSE_MAX_S)

    async def _attach(self) -> bool:
        """Open a channel, take the lock (if any), consume; ``False`` when the lock is busy."""
        channel = await open_plain_channel(await self._connect())
        try:
            lock_name = self.config.lock_name
            if lock_name is not None and not await locks.try_acquire(channel, lock_name):
                if self.state is not WorkerState.STANDBY:
                    logger.info("Worker %s stands by: another process holds it", self.name)
                self.state = WorkerState.STANDBY
                await close_quietly(channel)
                return False
            await channel.set_qos(
                prefetch_count=self.config.prefetch_count, timeout=OPERATION_TIMEOUT_S
            )
            queue = await channel.declare_queue(
                self.config.queue, passive=True, timeout=OPERATION_TIMEOUT_S
            )
            self._lost = asyncio.Event()
            underlay = await channel.get_underlay_channel()
            self._cancel_hooked = on_broker_cancel(underlay, self._on_broker_cancel)
            tag = await queue.consume(
                self._on_message,
                no_ack=self.config.no_ack,
                arguments=self.config.consume_arguments or None,
                timeout=OPERATION_TIMEOUT_S,
            )
        except BaseException:
            await close_quietly(channel)
            if self.config.lock_name is not None:  # we may hold it without consuming
                await self._release_lock()
            raise
        if self.state is WorkerState.STANDBY:
            logger.info("Worker %s took over queue '%s'", self.name, self.config.queue)
        elif self.state is WorkerState.RECONNECTING:
            logger.info("Worker %s is consuming queue '%s' again", self.name, self.config.queue)
        self._failures = 0
        self._channel, self._queue, self._consumer_tag = channel, queue, tag
        self._underlay = underlay
        self.state = WorkerState.ACTIVE
        return True

    async def _wait_lost(self) -> None:
        channel = self._channel
        if channel is None:
            return
        waiters: set[asyncio.Future[Any]] = {
            # shielded: aio-pika 9.x (Python 3.10) hands out the channel's own closing
            # future, and cancelling this waiter below would mark the open channel closed
            asyncio.shield(channel.closed()),
            asyncio.ensure_future(self._lost.wait()),
        }
        if not self._cancel_hooked and self._consumer_tag is not None:  # aiormq 6.9
            waiters.add(asyncio.ensure_future(consumer_gone(self._underlay, self._consumer_tag)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _detach(self) -> None:
        logger.info(
            "Worker %s lost its consumer on queue '%s'; re-attaching", self.name, self.config.queue
        )
        self.state = WorkerState.RECONNECTING
        channel = self._channel
        self._channel = self._queue = self._consumer_tag = None
        try:
            if channel is not None and not channel.is_closed:
                # Only the consumer was cancelled (queue deleted, failover): let running
                # handlers ack on this channel before closing it, as a scale-down would.
                await self._drain(self.config.drain_timeout_s)
        finally:
            await close_quietly(channel)

    async def _release_lock(self) -> None:
        assert self.config.lock_name is not None
        connection = self._current_connection()  # never a new one: we may be stopping
        if connection is not None:
            await locks.release_on(connection, self.config.lock_name)

    def _on_broker_cancel(self, frame: Basic.Cancel) -> None:
        """The broker cancelled our consumer (queue deleted): re-attach later."""
        if frame.consumer_tag == self._consumer_tag:
            self._lost.set()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        if self._stopping and not self.config.no_ack:
            # Delivered between our cancel and its confirmation: give it back at once.
            with contextlib.suppress(Exception):  # bounded; else the broker requeues it
                await bounded(message.nack(requeue=True))
            return
        self._in_flight += 1
        self._idle.clear()
        try:
            await self._handle(message)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()
