"""Stream consumers over the RabbitMQ stream protocol (rstream): connecting and recovering.

One ``StreamConsumer`` per stream subscriber, each with its own rstream ``Consumer`` (rstream
allows one subscription per stream per ``Consumer``). The messages go through ``Delivery`` (the
hot loop, ``delivery.py``); offsets are tracked by ``OffsetTracker`` and stored on the server by
``OffsetStore`` for a named consumer. A lost connection is re-opened with a growing pause (at
once when the broker's AMQP connection comes back), resuming right after the last processed
offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from blinker import NamedSignal
from rstream import (
    Consumer,
    MessageContext,
    OffsetNotFound,
    OnClosedErrorInfo,
)

from faststream_hare._internal.masking import mask_text
from faststream_hare._internal.patience import keep_trying
from faststream_hare._internal.tasks import end_tasks
from faststream_hare.errors import HareError, StreamUnreachableError
from faststream_hare.streams.connection import close_quietly, new_consumer, route_rstream_logs
from faststream_hare.streams.delivery import Delivery, StreamSubscriber
from faststream_hare.streams.endpoint import StreamEndpoint, stream_endpoint
from faststream_hare.streams.offset_store import OffsetStore
from faststream_hare.streams.offsets import OffsetTracker, starting_specification
from faststream_hare.telemetry import signals

if TYPE_CHECKING:
    from faststream_hare.runtime import HareRuntime

logger = logging.getLogger("faststream_hare.streams")

#: Chunks the server may send ahead (rstream grants one more per chunk it starts reading).
#: Memory held ahead of the handler is at most this many chunks plus ``BUFFER_SIZE`` messages;
#: 32 keeps the server busy with the small chunks of a moderately fed stream (see
#: benchmarks/streams.md) while bounding that memory.
INITIAL_CREDIT = 32
#: First pause before reconnecting a lost stream connection (doubles up to the interval).
RECONNECT_FIRST_PAUSE_S = 0.5  # also the pause between reconnect attempts


class StreamConsumer:
    """Consumes one stream queue with rstream and feeds the subscriber's handlers."""

    def __init__(self, subscriber: StreamSubscriber, runtime: HareRuntime) -> None:
        self.subscriber = subscriber
        self.runtime = runtime
        self.queue = subscriber.queue_name
        self.consumer_name = subscriber.hare.stream_consumer_name
        self.tracker = OffsetTracker()
        self._offsets = OffsetStore(
            self.queue, self.consumer_name, lambda: self.tracker, lambda: self._consumer
        )
        self._first_subscribed_ms: int | None = None
        self._endpoint: StreamEndpoint | None = None
        self._consumer: Consumer | None = None
        self._stale: list[Consumer] = []  # lost connections still to be closed
        self._generation = 0
        self._closing = False
        self._lost = asyncio.Event()
        self._delivery = Delivery(
            subscriber,
            sender=runtime.sender,
            tracker=lambda: self.tracker,
            generation=lambda: self._generation,
            closing=lambda: self._closing,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._worker: asyncio.Task[None] | None = None
        self._warned_unreachable = False

    @property
    def connection_name(self) -> str:
        """The rstream connection's client-provided name (the locator gets ``locator-``)."""
        base = self._endpoint.connection_name if self._endpoint else "faststream-hare"
        return f"{base}.stream.{self.queue}"

    async def start(self) -> None:
        """Connect, find the starting offset and subscribe; raises if the stream is unreachable."""
        settings = self.runtime.settings
        route_rstream_logs()
        self._endpoint = stream_endpoint(self.runtime.connection_url, settings.stream_url)
        await keep_trying(
            lambda: self._connect(first=True),
            timeout_s=settings.startup_timeout_ms / 1000,
            max_pause_s=settings.reconnect_interval_ms / 1000,
            retryable=(StreamUnreachableError,),
            on_failure=self._not_yet_reachable,
        )
        self._worker = asyncio.create_task(
            self._delivery.run(), name=f"hare-stream-worker:{self.queue}"
        )
        self._tasks = [self._worker, asyncio.create_task(self._supervise())]
        if self.consumer_name:
            self._tasks.append(asyncio.create_task(self._offsets.run()))

    def _behind_load_balancer(self) -> bool:
        settings = self.runtime.settings
        if settings.stream_load_balancer is not None:
            return settings.stream_load_balancer
        return settings.stream_url is not None

    def _not_yet_reachable(self, exc: BaseException, pause_s: float) -> None:
        if not self._warned_unreachable:
            self._warned_unreachable = True
            logger.warning("%s Trying again for up to the startup timeout.", exc)
        self._emit_connection(
            signals.connection_reconnecting, {"retry_delay_ms": pause_s * 1000}, str(exc)
        )

    async def stop(self) -> None:
        """Finish the message in flight (up to the drain timeout), store the offset, close."""
        self._closing = True
        worker = self._worker
        in_worker = worker is not None and asyncio.current_task() is worker
        if not in_worker:  # a handler that stops its own subscriber must not wait for itself
            drain_s = self.runtime.settings.shutdown_drain_timeout_ms / 1000
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._delivery.idle.wait(), drain_s)
        # cancelled again if a wait swallowed it; the caller's own cancel is never swallowed
        await end_tasks(task for task in self._tasks if task is not worker or not in_worker)
        self._tasks = []
        await self._offsets.store(always=True)
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            self._stale.append(consumer)
        await self._close_stale()

    # -- connecting ---------------------------------------------------------------------

    async def _connect(self, *, first: bool) -> None:
        endpoint = self._endpoint
        assert endpoint is not None
        generation = self._generation

        def on_close(info: OnClosedErrorInfo) -> None:
            self._on_connection_lost(info, generation)

        consumer = new_consumer(
            endpoint,
            connection_name=self.connection_name,
            ssl_context=self.runtime.ssl_context,
            on_close=on_close,
            load_balancer=self._behind_load_balancer(),
        )
        try:
            if first and self.consumer_name:
                self.tracker = OffsetTracker(await self._stored_offset(consumer))
            if first:
                self._first_subscribed_ms = time.time_ns() // 1_000_000
            spec = starting_specification(
                self.subscriber.hare.stream_offset,
                self.tracker.last_processed,
                None if first else self._first_subscribed_ms,
            )

            def on_message(raw: bytes, context: MessageContext) -> Awaitable[None] | None:
                # plain function: rstream awaits what it returns (a full buffer only)
                return self._delivery.offer(generation, context.offset, raw)

            await consumer.subscribe(
                self.queue,
                on_message,
                offset_specification=spec,
                initial_credit=INITIAL_CREDIT,
            )
        except BaseException as exc:
            await close_quietly(consumer)
            if not isinstance(exc, Exception):
                raise  # cancelled (stop during a reconnect): nothing to report
            reason = mask_text(f"{type(exc).__name__}: {exc}")
            msg = (
                f"Could not consume stream queue '{self.queue}' over the stream protocol at "
                f"{endpoint.display} ({reason}); check that the rabbitmq_stream plugin is "
                "enabled and reachable, or set HareSettings.stream_url."
            )
            unreachable = isinstance(exc, OSError | TimeoutError | ConnectionError)
            raise (StreamUnreachableError if unreachable else HareError)(msg) from None
        self._consumer = consumer
        self._emit_connection(signals.connection_connected, {"system_time": signals.system_time()})

    async def _stored_offset(self, consumer: Consumer) -> int | None:
        assert self.consumer_name is not None
        try:
            return await consumer.query_offset(self.queue, self.consumer_name)
        except OffsetNotFound:
            return None

    def _on_connection_lost(self, info: OnClosedErrorInfo, generation: int) -> None:
        """rstream's close callback: stop taking its messages and let ``_supervise`` reconnect.

        ``generation`` tells which connection closed: a late callback from a connection that
        was already replaced is ignored.
        """
        if self._closing or generation != self._generation:
            return
        self._generation += 1
        self._lost.set()
        reason = mask_text(str(info.reason))
        logger.warning("Stream connection for queue '%s' lost (%s)", self.queue, reason)
        self._emit_connection(
            signals.connection_disconnected, {"system_time": signals.system_time()}, reason
        )

    async def _supervise(self) -> None:
        """Reconnect after a loss, resuming right after the last processed offset.

        Tries again every 0.5 s (less with a shorter ``reconnect_interval_ms``): the stream
        port of a restarting broker opens after its AMQP port, so waking when AMQP is back is
        not enough, and a grown pause would keep the consumer idle long after. And at once
        when the broker's AMQP connection comes back (a restarted broker is back for both).
        """
        interval_s = self.runtime.settings.reconnect_interval_ms / 1000
        # ``_closing`` is checked after every await: a cancel swallowed by a ``wait_for``
        # (Python 3.11) must not keep this loop going (``_internal/tasks.py``)
        while not self._closing:
            await self._lost.wait()
            if self._closing:
                return
            self._lost.clear()
            if self._consumer is not None:
                self._stale.append(self._consumer)
                self._consumer = None
            await self._delivery.idle.wait()  # the message in flight counts before the offset
            await self._close_stale()
            pause, failures = min(interval_s, RECONNECT_FIRST_PAUSE_S), 0
            while not self._closing:
                self._emit_connection(
                    signals.connection_reconnecting,
                    {"retry_delay_ms": pause * 1000},
                    "stream connection lost",
                )
                await self.runtime.wait_reconnected(pause)
                if self._closing:
                    return
                try:
                    await self._connect(first=False)
                except HareError as exc:
                    failures += 1
                    level = logging.WARNING if failures == 1 else logging.DEBUG
                    logger.log(level, "%s Trying again.", exc)
                    continue
                logger.info("Stream consumer for queue '%s' reconnected", self.queue)
                self.subscriber.emit_connected()
                break

    def _emit_connection(
        self, signal: NamedSignal, measurements: dict[str, float], reason: str | None = None
    ) -> None:
        metadata = {"connection_name": self.connection_name}
        if signal is not signals.connection_disconnected and self._endpoint is not None:
            metadata["host"] = self._endpoint.display
        if reason is not None:
            metadata["reason"] = reason
        signals.emit(signal, self.runtime.sender, measurements, metadata)

    async def _close_stale(self) -> None:
        while self._stale:
            await close_quietly(self._stale.pop())
