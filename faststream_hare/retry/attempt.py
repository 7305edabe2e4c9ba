"""One delivery of one message to a classic/quorum hare subscriber (DESIGN §3, §11).

The handler runs; a failure is handed onwards (``handoff.py``): to the delay queue of the next
retry or to ``Q.dead``, the original acked only once the broker confirmed the copy. Signals:
one ``start`` and exactly one ``stop`` per delivery, whatever happens (also when the handler
settles the message itself with ``AckMessage``/``NackMessage``/``RejectMessage``, or is
cancelled); ``exception`` before ``stop`` when the handler raised.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from faststream.exceptions import AckMessage, HandlerException, NackMessage, RejectMessage

from faststream_hare.retry.decision import FIRST_TRACEPARENT_HEADER, header_text, read_retry_count
from faststream_hare.retry.handoff import Handoff
from faststream_hare.retry.poison import is_poison
from faststream_hare.telemetry import signals

if TYPE_CHECKING:
    from faststream.rabbit.message import RabbitMessage

    from faststream_hare.retry.endpoint import HareEndpoint

#: ``stop``'s ``result`` when the handler settled the message itself.
_SETTLED = {AckMessage: "ack", NackMessage: "nack", RejectMessage: "reject"}


class Attempt:
    """Runs the handler for one delivery and decides what becomes of the message."""

    def __init__(self, subscriber: HareEndpoint, msg: RabbitMessage, log: logging.Logger) -> None:
        self.subscriber = subscriber
        self.runtime = subscriber.hare_runtime
        self.msg = msg
        self.log = log
        self._metadata: dict[str, Any] | None = None
        self._started = 0
        self._stopped = False

    @property
    def metadata(self) -> dict[str, Any]:
        """The span's metadata, built only when a receiver listens (a hot path otherwise)."""
        if self._metadata is None:
            self._metadata = {
                "queue": self.subscriber.queue_name,
                "exchange": self.subscriber.hare.exchange,
                "routing_key": self.subscriber.routing_key,
                "telemetry_span_context": uuid.uuid4().hex,
                # for tracing: this attempt's retry count and the first attempt's span
                "retry_count": read_retry_count(self.msg.raw_message.headers),
                "first_traceparent": header_text(
                    self.msg.raw_message.headers, FIRST_TRACEPARENT_HEADER
                ),
            }
        return self._metadata

    async def run(self, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        """The handler's result; a failure ends in ``AckMessage`` or ``NackMessage``."""
        self._started = signals.monotonic_time()
        if signals.has_receivers(signals.consumer_message_start):
            signals.emit(
                signals.consumer_message_start,
                self.runtime.sender,
                {"system_time": signals.system_time(), "monotonic_time": self._started},
                self.metadata,
            )
        outcome = "ok"
        try:
            try:
                await self.msg.decode()
            except Exception as exc:  # an undecodable body is poison: no retries
                await self._failed(exc, poison=True)
            return await call_next(self.msg)
        except HandlerException as exc:
            outcome = _SETTLED.get(type(exc), "settled")
            raise  # the handler (or hare) settled it on purpose
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except Exception as exc:
            outcome = "error"
            await self._failed(exc, poison=is_poison(exc, self.subscriber))
            raise  # pragma: no cover - _failed always raises
        finally:
            self._stop(outcome)

    async def _failed(self, exc: Exception, *, poison: bool) -> None:
        now = signals.monotonic_time()
        signals.emit(
            signals.consumer_message_exception,
            self.runtime.sender,
            {"duration": now - self._started, "monotonic_time": now},
            {
                **self.metadata,
                "kind": "error",
                "reason": exc,
                "poison": poison,
                "stacktrace": "".join(traceback.format_exception(exc)),
            },
        )
        self._stop("error")
        handoff = Handoff(self.subscriber, self.msg.raw_message, self.msg, self.log)
        decision = handoff.decide(dead_reason="poison" if poison else None)
        if not await handoff.send(decision, exc):
            raise NackMessage(requeue=True) from exc
        handoff.report(decision, exc)
        raise AckMessage from exc

    def _stop(self, result: str) -> None:
        if self._stopped:
            return
        self._stopped = True
        if not signals.has_receivers(signals.consumer_message_stop):
            return
        now = signals.monotonic_time()
        signals.emit(
            signals.consumer_message_stop,
            self.runtime.sender,
            {"duration": now - self._started, "monotonic_time": now},
            {**self.metadata, "result": result},
        )
