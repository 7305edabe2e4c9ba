"""One delivery of one message to a classic/quorum hare subscriber (DESIGN §3, §11).

A failure sends a copy onwards — to the delay queue of the next retry, or to ``Q.dead`` —
and the original is acked only once the broker confirmed that copy; otherwise it goes back
to ``Q``. A message is never dropped on this path.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from faststream.exceptions import AckMessage, HandlerException, NackMessage

from faststream_hare._internal.confirm import ConfirmError
from faststream_hare.retry.copies import MessageCopy
from faststream_hare.retry.decision import RetryDecision, copy_headers, decide, read_retry_count
from faststream_hare.retry.poison import is_poison
from faststream_hare.telemetry import signals

if TYPE_CHECKING:
    from faststream.rabbit.message import RabbitMessage

    from faststream_hare.retry.endpoint import HareEndpoint

logger = logging.getLogger("faststream_hare.retry")

#: Pause before handing back a message whose copy was not confirmed, so a broken delay queue
#: does not turn into a hot redelivery loop.
REQUEUE_PAUSE_S = 0.5


class Attempt:
    """One delivery of one message to a classic/quorum hare subscriber."""

    def __init__(self, subscriber: HareEndpoint, msg: RabbitMessage) -> None:
        self.subscriber = subscriber
        self.runtime = subscriber.hare_runtime
        self.msg = msg
        self._metadata: dict[str, Any] | None = None

    @property
    def metadata(self) -> dict[str, Any]:
        """The span's metadata, built only when a receiver listens (a hot path otherwise)."""
        if self._metadata is None:
            self._metadata = {
                "queue": self.subscriber.queue_name,
                "exchange": self.subscriber.hare.exchange,
                "routing_key": self.subscriber.routing_key,
                "telemetry_span_context": uuid.uuid4().hex,
            }
        return self._metadata

    async def run(self, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        started = signals.monotonic_time()
        if signals.has_receivers(signals.consumer_message_start):
            signals.emit(
                signals.consumer_message_start,
                self.runtime.sender,
                {"system_time": signals.system_time(), "monotonic_time": started},
                self.metadata,
            )
        try:
            try:
                await self.msg.decode()
            except Exception as exc:  # an undecodable body is poison: no retries
                await self._failed(exc, started, poison=True)
            result = await call_next(self.msg)
        except HandlerException:
            raise  # AckMessage/NackMessage/RejectMessage: the user settled it on purpose
        except Exception as exc:
            await self._failed(exc, started, poison=is_poison(exc, self.subscriber))
            raise  # pragma: no cover - _failed always raises
        self._stop(started, "ok")
        return result

    async def _failed(self, exc: Exception, started: int, *, poison: bool) -> None:
        now = signals.monotonic_time()
        signals.emit(
            signals.consumer_message_exception,
            self.runtime.sender,
            {"duration": now - started, "monotonic_time": now},
            {**self.metadata, "kind": "error", "reason": exc, "poison": poison},
        )
        self._stop(started, "error")
        await self._send_onwards(exc, poison=poison)

    def _stop(self, started: int, result: str) -> None:
        if not signals.has_receivers(signals.consumer_message_stop):
            return
        now = signals.monotonic_time()
        signals.emit(
            signals.consumer_message_stop,
            self.runtime.sender,
            {"duration": now - started, "monotonic_time": now},
            {**self.metadata, "result": result},
        )

    async def _send_onwards(self, exc: Exception, *, poison: bool) -> None:
        """Publish the retry/dead copy; ack the original only once the broker confirmed it."""
        hare = self.subscriber.hare
        settings = self.runtime.settings
        raw = self.msg.raw_message
        decision = decide(
            queue=self.subscriber.queue_name,
            arrived_with=read_retry_count(raw.headers),
            retry_limit=settings.retry_limit if hare.retry_limit is None else hare.retry_limit,
            cascade=hare.delay_cascade_in_ms,
            poison=poison,
        )
        copy = MessageCopy.of(raw)
        copy = copy.with_headers(copy_headers(copy.headers, decision, exc))
        try:
            await self.runtime.transport.send(decision.queue, copy)
        except ConfirmError as failure:
            logger.error(  # the handler's traceback was already logged by FastStream
                "Could not hand message %s from queue '%s' to '%s' (%s); it goes back to '%s' "
                "and will be delivered again",
                self.msg.message_id,
                self.subscriber.queue_name,
                decision.queue,
                failure,
                self.subscriber.queue_name,
            )
            await asyncio.sleep(REQUEUE_PAUSE_S)
            await self.msg.nack(requeue=True)
            raise NackMessage(requeue=True) from failure
        self._signal(decision, exc)
        await self.msg.ack()
        raise AckMessage

    def _signal(self, decision: RetryDecision, exc: Exception) -> None:
        if decision.action == "retry":
            logger.info(
                "Message %s failed (%s); retry %d via '%s'",
                self.msg.message_id,
                type(exc).__name__,
                decision.retry_count,
                decision.queue,
            )
            signals.emit(
                signals.retry_publisher_message_retried,
                self.runtime.sender,
                {"retry_count": decision.retry_count, "system_time": signals.system_time()},
                {"queue": self.subscriber.queue_name, "delay_queue": decision.queue},
            )
            return
        logger.warning(
            "Message %s failed (%s: %s) after %d retries; dead-lettered to '%s'",
            self.msg.message_id,
            type(exc).__name__,
            exc,
            decision.arrived_with,
            decision.queue,
        )
        signals.emit(
            signals.retry_publisher_message_dead_lettered,
            self.runtime.sender,
            {"retry_count": decision.arrived_with, "system_time": signals.system_time()},
            {
                "queue": self.subscriber.queue_name,
                "dead_queue": decision.queue,
                "exception": type(exc).__name__,
            },
        )
