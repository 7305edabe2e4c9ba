"""The retry middleware: a failure sends a confirmed copy onwards, then the original is acked.

``RetryMiddleware`` is the factory the broker registers (outermost of the user middlewares);
``_RetryRuntime`` does the work for one message. Plain FastStream subscribers pass through.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from faststream import BaseMiddleware
from faststream.exceptions import AckMessage, HandlerException, NackMessage

from faststream_hare._internal import faststream as _faststream
from faststream_hare._internal.confirm import ConfirmError
from faststream_hare.retry.copies import MessageCopy
from faststream_hare.retry.decision import (
    RetryDecision,
    copy_headers,
    decide,
    error_headers,
    read_retry_count,
)
from faststream_hare.retry.transport import transport_for
from faststream_hare.subscriber import HareSubscriber
from faststream_hare.telemetry import signals
from faststream_hare.topology.plan import dead_queue_name

if TYPE_CHECKING:
    from faststream.message import StreamMessage
    from faststream.rabbit.message import RabbitMessage

    from faststream_hare._internal.faststream import ContextRepo
    from faststream_hare.broker import HareBroker

logger = logging.getLogger("faststream_hare.retry")

#: Pause before handing back a message whose copy was not confirmed, so a broken delay queue
#: does not turn into a hot redelivery loop.
REQUEUE_PAUSE_S = 0.5
#: Pauses between attempts to copy a failed stream message to ``Q.dead`` (streams never
#: redeliver, so hare tries again itself before it moves on).
STREAM_COPY_PAUSES_S = (0.2, 1.0, 3.0)


class RetryMiddleware:
    """Factory registered on every HareBroker; one ``_RetryRuntime`` per consumed message."""

    def __call__(self, msg: Any, /, *, context: ContextRepo) -> BaseMiddleware:
        return _RetryRuntime(msg, context=context)


class _RetryRuntime(BaseMiddleware):
    async def consume_scope(
        self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        subscriber = self.context.get_local("handler_")
        if not isinstance(subscriber, HareSubscriber):
            return await call_next(msg)
        if subscriber.hare.stream:
            return await _StreamFailures(subscriber).run(call_next, msg)
        return await _Attempt(subscriber, cast("RabbitMessage", msg)).run(call_next)


class _Attempt:
    """One delivery of one message to a classic/quorum hare subscriber."""

    def __init__(self, subscriber: HareSubscriber, msg: RabbitMessage) -> None:
        self.subscriber = subscriber
        self.broker: HareBroker = subscriber.hare_broker
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
                self.broker,
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
            await self._failed(exc, started, poison=_is_poison(exc, self.subscriber))
            raise  # pragma: no cover - _failed always raises
        self._stop(started, "ok")
        return result

    async def _failed(self, exc: Exception, started: int, *, poison: bool) -> None:
        now = signals.monotonic_time()
        signals.emit(
            signals.consumer_message_exception,
            self.broker,
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
            self.broker,
            {"duration": now - started, "monotonic_time": now},
            {**self.metadata, "result": result},
        )

    async def _send_onwards(self, exc: Exception, *, poison: bool) -> None:
        """Publish the retry/dead copy; ack the original only once the broker confirmed it."""
        hare = self.subscriber.hare
        settings = self.broker.active_settings
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
            await transport_for(self.broker).send(decision.queue, copy)
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
                self.broker,
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
            self.broker,
            {"retry_count": decision.arrived_with, "system_time": signals.system_time()},
            {
                "queue": self.subscriber.queue_name,
                "dead_queue": decision.queue,
                "exception": type(exc).__name__,
            },
        )


class _StreamFailures:
    """Streams never nack: a failure is logged, signalled and (opt-in) copied to ``Q.dead``."""

    def __init__(self, subscriber: HareSubscriber) -> None:
        self.subscriber = subscriber
        self.broker: HareBroker = subscriber.hare_broker

    async def run(self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]) -> Any:
        try:
            return await call_next(msg)
        except HandlerException:
            raise
        except Exception as exc:
            await self._failed(msg, exc)
        return None

    async def _failed(self, msg: StreamMessage[Any], exc: Exception) -> None:
        queue = self.subscriber.queue_name
        offset = (msg.raw_message.headers or {}).get("x-stream-offset")
        logger.error(
            "Stream handler failed on '%s' offset %s (%s: %s); moving on",
            queue,
            offset,
            type(exc).__name__,
            exc,
        )
        signals.emit(
            signals.stream_message_failed,
            self.broker,
            {"system_time": signals.system_time()},
            {"queue": queue, "offset": offset, "exception": type(exc).__name__},
        )
        if self.subscriber.hare.stream_dead_letter:
            copy = MessageCopy.of(msg.raw_message)
            await self._dead_letter(
                copy.with_headers({**copy.headers, **error_headers(exc)}), offset
            )
        await msg.ack()
        raise AckMessage

    async def _dead_letter(self, copy: MessageCopy, offset: object) -> None:
        """Copy to ``Q.dead``; a stream cannot take a message back, so try a few times."""
        dead = dead_queue_name(self.subscriber.queue_name)
        failure = await _send_with_retries(self.broker, dead, copy, STREAM_COPY_PAUSES_S)
        if failure is not None:
            logger.error(
                "Could not copy failed stream message (offset %s) to '%s' after %d attempts: "
                "%s; it stays in the stream only",
                offset,
                dead,
                len(STREAM_COPY_PAUSES_S) + 1,
                failure,
            )


async def _send_with_retries(
    broker: HareBroker, queue: str, copy: MessageCopy, pauses: tuple[float, ...]
) -> ConfirmError | None:
    """Send ``copy``, trying again after each pause; the last failure, or ``None`` if sent."""
    failure: ConfirmError | None = None
    for pause in (0.0, *pauses):
        await asyncio.sleep(pause)
        try:
            await transport_for(broker).send(queue, copy)
        except ConfirmError as exc:
            failure = exc
        else:
            return None
    return failure


def _is_poison(exc: Exception, subscriber: HareSubscriber) -> bool:
    """A validation error raised before the handler ran (bad body type) is poison."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return False
    handler_codes = {
        getattr(function, "__code__", None)
        for function in _faststream.handler_functions(subscriber)
    }
    traceback = exc.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code in handler_codes:
            return False  # the handler itself raised it: an ordinary, retryable failure
        traceback = traceback.tb_next
    return True
