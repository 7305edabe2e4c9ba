"""One delivery of one message to a classic/quorum hare subscriber.

The handler runs; a failure worth retrying first re-runs at once, up to ``immediate_retries``
times, then is handed onwards (``handoff.py``): to the delay queue of the next retry or to
``Q.dead``, the original acked only once the broker confirmed the copy. A failure that no retry
can fix (poison, or classified unrecoverable by ``retry_on``/``dead_on``) goes to ``Q.dead`` at
once. Signals: one ``start`` and exactly one ``stop`` per run of the handler, whatever happens
(also when the handler settles the message itself with ``AckMessage``/``NackMessage``/
``RejectMessage``, or is cancelled); ``exception`` before ``stop`` when it raised; ``attempt``
(1, 2, ...) in the metadata numbers the runs of one delivery.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from faststream.exceptions import AckMessage, HandlerException, NackMessage, RejectMessage

from faststream_hare.contract.headers import FIRST_TRACEPARENT_HEADER, header_text, read_retry_count
from faststream_hare.retry.decision import classify
from faststream_hare.retry.handed_on import HandedOn
from faststream_hare.retry.poison import is_poison
from faststream_hare.retry.settle import hand_on
from faststream_hare.telemetry import signals

if TYPE_CHECKING:
    from faststream.rabbit.message import RabbitMessage

    from faststream_hare.contract.headers import DeadReason
    from faststream_hare.retry.endpoint import HareEndpoint

#: ``stop``'s ``result`` when the handler settled the message itself.
_SETTLED = {AckMessage: "ack", NackMessage: "nack", RejectMessage: "reject"}


class Attempt:
    """Runs the handler for one delivery and decides what becomes of the message."""

    def __init__(
        self,
        subscriber: HareEndpoint,
        msg: RabbitMessage,
        log: logging.Logger,
        *,
        before_handoff: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.subscriber = subscriber
        self.runtime = subscriber.hare_runtime
        self.msg = msg
        self.log = log
        #: Awaited before a failed delivery is handed on (idempotency releases its lease).
        self.before_handoff = before_handoff
        #: Awaited before each run of the handler (an inbox on PostgreSQL undoes the writes
        #: of the run before, so an immediate retry starts from a clean transaction).
        self.before_run: Callable[[], Awaitable[None]] | None = None
        #: How the delivery ended: "ok", "ack"/"nack"/"reject"/"settled" (by the handler),
        #: "handed_off" (retried, dead-lettered or back in Q by hare), "cancelled".
        self.outcome: str | None = None
        self.run_number = 0
        self._metadata: dict[str, Any] | None = None
        self._started = 0
        self._stopped = False

    @property
    def handled(self) -> bool:
        """The handler succeeded: it returned, or acked the message itself."""
        return self.outcome in ("ok", "ack")

    @property
    def metadata(self) -> dict[str, Any]:
        """The run's metadata, built only when a receiver listens (a hot path otherwise)."""
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
                "attempt": self.run_number,
            }
        return self._metadata

    async def run(self, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        """The handler's result; a failure ends in ``HandedOn`` or ``NackMessage``."""
        immediate_retries = self.subscriber.hare.immediate_retries
        while True:
            self._begin()
            outcome = "ok"
            try:
                if self.before_run is not None:
                    await self.before_run()
                try:
                    await self.msg.decode()
                except Exception as exc:  # an undecodable body is poison: no retries
                    await self._failed(exc, "poison")
                result = await call_next(self.msg)
                self.outcome = "ok"
                return result
            except HandlerException as exc:
                outcome = _SETTLED.get(type(exc), "settled")
                self.outcome = self.outcome or outcome
                raise  # the handler (or hare) settled it on purpose
            except asyncio.CancelledError:
                outcome = self.outcome = "cancelled"
                raise
            except Exception as exc:
                outcome = "error"
                reason = self._dead_reason(exc)
                if reason is None and self.run_number <= immediate_retries:
                    self._exception(exc, poison=False)
                    continue  # run it again at once (``finally`` stops this run)
                await self._failed(exc, reason)
                raise  # pragma: no cover - _failed always raises
            finally:
                self._stop(outcome)

    def _begin(self) -> None:
        self.run_number += 1
        self._metadata = None
        self._stopped = False
        self._started = signals.monotonic_time()
        if signals.has_receivers(signals.consumer_message_start):
            signals.emit(
                signals.consumer_message_start,
                self.runtime.sender,
                {"system_time": signals.system_time(), "monotonic_time": self._started},
                self.metadata,
            )

    def _dead_reason(self, exc: Exception) -> DeadReason | None:
        """``poison`` or ``unrecoverable`` when no retry can help; ``None`` to retry."""
        if is_poison(exc, self.subscriber):
            return "poison"
        hare = self.subscriber.hare
        return classify(exc, hare.retry_on, hare.dead_on)

    def _exception(self, exc: Exception, *, poison: bool) -> None:
        if not signals.has_receivers(signals.consumer_message_exception):
            return  # formatting the stack trace costs more than the rest of a retry
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

    async def _failed(self, exc: Exception, dead_reason: DeadReason | None) -> None:
        self._exception(exc, poison=dead_reason == "poison")
        self._stop("error")
        self.outcome = "handed_off"
        if self.before_handoff is not None:
            await self.before_handoff()
        # hare settles the original itself (acked once the copy is confirmed, else back to Q);
        # on the broker the consumer moves on while the copy's confirm is in flight.
        await hand_on(
            self.subscriber, self.msg.raw_message, exc, dead_reason=dead_reason, log=self.log
        )
        raise HandedOn from exc

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
