"""Failures of a stream handler: streams never nack (RabbitMQ would close the link).

A failure is logged and signalled and the consumer moves on; with ``stream_dead_letter=True``
the message is also copied to a classic ``Q.dead`` (tried a few times: a stream cannot take a
message back).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from faststream.exceptions import HandlerException

from faststream_hare.contract.copies import MessageCopy
from faststream_hare.contract.headers import dead_lettered_now, error_headers
from faststream_hare.contract.names import dead_queue_name
from faststream_hare.errors import ConfirmError
from faststream_hare.retry.handed_on import HandedOn
from faststream_hare.telemetry import signals

if TYPE_CHECKING:
    from faststream.message import StreamMessage

    from faststream_hare.retry.endpoint import HareEndpoint
    from faststream_hare.runtime import HareRuntime

logger = logging.getLogger("faststream_hare.retry")

#: Pauses between attempts to copy a failed stream message to ``Q.dead``.
STREAM_COPY_PAUSES_S = (0.2, 1.0, 3.0)


class StreamFailures:
    """Streams never nack: a failure is logged, signalled and (opt-in) copied to ``Q.dead``."""

    def __init__(self, subscriber: HareEndpoint) -> None:
        self.subscriber = subscriber
        self.runtime = subscriber.hare_runtime

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
            self.runtime.sender,
            {"system_time": signals.system_time()},
            {"queue": queue, "offset": offset, "exception": type(exc).__name__},
        )
        if self.subscriber.hare.stream_dead_letter:
            copy = MessageCopy.of(msg.raw_message)
            await self._dead_letter(
                copy.with_headers({**copy.headers, **error_headers(exc), **dead_lettered_now()}),
                offset,
            )
        await msg.ack()
        raise HandedOn

    async def _dead_letter(self, copy: MessageCopy, offset: object) -> None:
        """Copy to ``Q.dead``; a stream cannot take a message back, so try a few times."""
        dead = dead_queue_name(self.subscriber.queue_name)
        failure = await _send_with_retries(self.runtime, dead, copy, STREAM_COPY_PAUSES_S)
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
    runtime: HareRuntime, queue: str, copy: MessageCopy, pauses: tuple[float, ...]
) -> Exception | None:
    """Send ``copy``, trying again after each pause; the last failure, or ``None`` if sent."""
    failure: Exception | None = None
    for pause in (0.0, *pauses):
        await asyncio.sleep(pause)
        try:
            await runtime.transport.send(queue, copy)
        except ConfirmError as exc:
            failure = exc
        except Exception as exc:  # a bug of hare's must not stop the stream either
            logger.exception("hare failed to copy a stream message to '%s'", queue)
            failure = exc
        else:
            return None
    return failure
