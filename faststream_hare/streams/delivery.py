"""The hot loop of a stream consumer: buffered raw messages to FastStream, in offset order.

rstream's delivery task only puts raw messages into the buffer (when it is full, rstream stops
granting credit: backpressure). This loop, a task of ours, decodes each one and hands it to
FastStream (``subscriber.consume``) one at a time, so a connection loss — which makes rstream
cancel its own tasks — never cancels a handler. After each message (handled or failed: streams
never nack) its offset counts as processed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from faststream_hare.streams.messages import to_incoming_message
from faststream_hare.telemetry import signals

if TYPE_CHECKING:
    from faststream_hare.config.subscriber import SubscriberOptions
    from faststream_hare.streams.offsets import OffsetTracker

logger = logging.getLogger("faststream_hare.streams")

#: Messages decoded ahead of the handler; when full, rstream stops granting credit.
BUFFER_SIZE = 128


class StreamSubscriber(Protocol):
    """A hare stream subscriber as its consumer sees it."""

    @property
    def hare(self) -> SubscriberOptions: ...

    @property
    def queue_name(self) -> str: ...

    @property
    def running(self) -> bool: ...

    async def consume(self, msg: Any) -> Any: ...

    def emit_connected(self) -> None: ...


class Delivery:
    """The buffer between rstream and the handler, and the loop that drains it."""

    def __init__(
        self,
        subscriber: StreamSubscriber,
        *,
        sender: object,
        tracker: Callable[[], OffsetTracker],
        generation: Callable[[], int],
        closing: Callable[[], bool],
    ) -> None:
        self.subscriber = subscriber
        self.queue = subscriber.queue_name
        self.sender = sender
        self._tracker = tracker
        self._generation = generation
        self._closing = closing
        self.buffer: asyncio.Queue[tuple[int, int, bytes]] = asyncio.Queue(BUFFER_SIZE)
        #: Set while no message is being handled (stop and reconnects wait for it).
        self.idle = asyncio.Event()
        self.idle.set()

    def offer(self, generation: int, offset: int, raw: bytes) -> Awaitable[None] | None:
        """rstream's callback: queue the message; a coroutine only when the buffer is full."""
        if self._closing() or generation != self._generation():
            return None
        if self.buffer.full():
            return self.buffer.put((generation, offset, raw))
        self.buffer.put_nowait((generation, offset, raw))
        return None

    async def run(self) -> None:
        """Hand messages to FastStream one at a time, in offset order."""
        buffer, subscriber = self.buffer, self.subscriber
        while True:
            if buffer.empty():
                generation, offset, raw = await buffer.get()
            else:  # no coroutine per message while messages are waiting
                generation, offset, raw = buffer.get_nowait()
            tracker = self._tracker()
            if generation != self._generation() or not tracker.is_new(offset):
                continue  # read before a reconnect (redelivered) or already processed
            if self._closing() or not subscriber.running:
                continue  # not processed: a restart reads it again
            self.idle.clear()
            try:
                await self._handle(offset, raw)
                tracker.processed(offset)  # handled or failed: the subscriber moves on
                if signals.has_receivers(signals.stream_message_processed):
                    signals.emit(
                        signals.stream_message_processed,
                        self.sender,
                        {"offset": offset, "system_time": signals.system_time()},
                        {"queue": self.queue},
                    )
            finally:  # cancelled (stop after the drain timeout): not processed
                self.idle.set()

    async def _handle(self, offset: int, raw: bytes) -> None:
        try:
            message = to_incoming_message(raw, offset=offset, queue=self.queue)
        except Exception as exc:  # not an AMQP 1.0 message: nothing a handler can read
            self._report_undecodable(offset, exc)
            return
        try:
            # FastStream runs hare's middlewares and the handler; handler errors are caught
            # there (logged, signalled, optionally dead-lettered), never raised here.
            await self.subscriber.consume(message)
        except Exception:  # a bug must not stop the stream
            logger.exception("Stream queue '%s': offset %d failed", self.queue, offset)

    def _report_undecodable(self, offset: int, exc: Exception) -> None:
        logger.error(
            "Stream queue '%s': message at offset %d is not a valid AMQP 1.0 message (%s); skipped",
            self.queue,
            offset,
            exc,
        )
        signals.emit(
            signals.stream_message_failed,
            self.sender,
            {"system_time": signals.system_time()},
            {"queue": self.queue, "offset": offset, "exception": type(exc).__name__},
        )
