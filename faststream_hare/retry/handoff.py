"""Handing a failed delivery onwards: a confirmed copy first, then the original is settled.

Shared by handler failures (``attempt.py``) and by messages FastStream could not hand to a
handler at all (parser, decoder or filter; ``middleware.py``). Whatever fails on the way — the
confirm, or any bug in hare's own code — the original goes back to ``Q`` after the
subscriber's back-off pause: it is never acked without a confirmed copy, never dropped.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from aiormq.exceptions import AMQPError, ChannelInvalidStateError

from faststream_hare._internal.channels import bounded
from faststream_hare.contract.copies import MessageCopy
from faststream_hare.contract.headers import read_retry_count, retries_text
from faststream_hare.errors import ConfirmError
from faststream_hare.retry.decision import RetryDecision, copy_headers, decide
from faststream_hare.telemetry import signals
from faststream_hare.topology.delivery_limit import requeue_would_near_limit

if TYPE_CHECKING:
    from aio_pika.abc import AbstractIncomingMessage

    from faststream_hare.contract.headers import DeadReason
    from faststream_hare.retry.endpoint import HareEndpoint

logger = logging.getLogger("faststream_hare.retry")


class Settleable(Protocol):
    """FastStream's ``RabbitMessage`` or aio-pika's incoming message: both settle the same way."""

    async def ack(self, multiple: bool = False) -> None: ...

    async def nack(self, multiple: bool = False, requeue: bool = True) -> None: ...


class Handoff:
    """Sends one failed delivery of ``subscriber`` onwards and settles ``original``."""

    def __init__(
        self,
        subscriber: HareEndpoint,
        raw: AbstractIncomingMessage,
        original: Settleable,
        log: logging.Logger,
    ) -> None:
        self.subscriber = subscriber
        self.runtime = subscriber.hare_runtime
        self.raw = raw
        self.original = original
        self.log = log

    def decide(self, *, dead_reason: DeadReason | None = None) -> RetryDecision:
        """Where this delivery goes next (pure; see ``decision.py``)."""
        hare = self.subscriber.hare
        settings = self.runtime.settings
        return decide(
            queue=self.subscriber.queue_name,
            arrived_with=read_retry_count(self.raw.headers),
            retry_limit=self._retry_limit(),
            cascade=hare.delay_cascade_in_ms,
            delay_in_ms=settings.delay_in_ms if hare.delay_in_ms is None else hare.delay_in_ms,
            dead_reason=dead_reason,
        )

    def prepare(self, decision: RetryDecision, exc: BaseException) -> MessageCopy | None:
        """The copy to send (``None`` if building it failed: a bug of hare's, requeued).

        Runs where the delivery runs (inside FastStream's process span): the ``copying``
        signal lets receivers add headers and note the outcome hare is heading for.
        """
        try:
            copy = MessageCopy.of(self.raw)
            if copy.message_id is None:  # keep the id hare logs and signals (HareMq sets none)
                copy = replace(copy, message_id=getattr(self.original, "message_id", None))
            headers = copy_headers(copy.headers, decision, exc)
            if signals.has_receivers(signals.retry_publisher_message_copying):
                signals.emit(
                    signals.retry_publisher_message_copying,
                    self.runtime.sender,
                    {"system_time": signals.system_time()},
                    {
                        "queue": self.subscriber.queue_name,
                        "target": decision.queue,
                        "headers": headers,
                        "action": decision.action,
                        "reason": decision.reason,
                        "delay_ms": decision.delay_ms,
                        "retry_count": decision.arrived_with,
                    },
                )
            return copy.with_headers(headers)
        except Exception:  # a bug of hare's: the message must survive it too
            logger.exception("hare failed to build the copy for '%s'", decision.queue)
            return None

    async def send(
        self, decision: RetryDecision, exc: BaseException, copy: MessageCopy | None = None
    ) -> bool:
        """Copy, wait for the confirm, ack; ``False`` when the original went back to ``Q``."""
        if copy is None:
            copy = self.prepare(decision, exc)
        if copy is None:
            await self._give_back(decision, exc, "the copy could not be built")
            return False
        try:
            await self.runtime.transport.send(decision.queue, copy)
        except ConfirmError as failure:
            await self._give_back(decision, exc, str(failure))
            return False
        except Exception as failure:  # a bug of hare's: the message must survive it too
            logger.exception("hare failed to copy a message to '%s'", decision.queue)
            await self._give_back(decision, exc, f"{type(failure).__name__}: {failure}")
            return False
        self.subscriber.requeue_backoff.reset()
        try:  # bounded: a link that died with aiormq's write queue full never wakes it
            await bounded(self.original.ack())
        except (ChannelInvalidStateError, AMQPError, ConnectionError, asyncio.TimeoutError) as exc:
            logger.warning(
                "Message %s was copied to '%s', but the link went down before its ack (%s); "
                "it will be delivered again",
                self.raw.message_id,
                decision.queue,
                type(exc).__name__,
            )
        return True

    async def finish(
        self, decision: RetryDecision, exc: BaseException, copy: MessageCopy | None
    ) -> None:
        """``send`` then ``report``, in the background (never raises: nothing awaits it)."""
        try:
            if await self.send(decision, exc, copy):
                self.report(decision, exc)
        except asyncio.CancelledError:  # timed out (a stop): give the original back now
            await self._nack_original()  # a copy confirmed meanwhile: a duplicate, not a loss
            raise
        except Exception:
            logger.exception("hare failed to settle message %s", self.raw.message_id)

    async def _give_back(self, decision: RetryDecision, exc: BaseException, reason: str) -> None:
        """Requeue; or, when that could bring ``Q``'s delivery limit near, dead-letter instead."""
        limit = getattr(self.subscriber, "delivery_limit", None)
        if decision.reason != "delivery_limit" and requeue_would_near_limit(
            self.raw.headers, limit
        ):
            logger.error(
                "Message %s of queue '%s' has come back %s times and the queue drops a message "
                "after %s; it goes to the dead queue instead (hare-reason: delivery_limit)",
                self.raw.message_id,
                self.subscriber.queue_name,
                (self.raw.headers or {}).get("x-delivery-count"),
                limit,
            )
            over = self.decide(dead_reason="delivery_limit")
            if await self.send(over, exc):
                self.report(over, exc)
            return
        await self._requeue(decision.queue, reason)

    async def _requeue(self, target: str, reason: str) -> None:
        queue = self.subscriber.queue_name
        pause = self.subscriber.requeue_backoff.next_pause()
        logger.error(
            "Could not hand message %s from queue '%s' to '%s' (%s); it goes back to '%s' "
            "in %.1f s and will be delivered again",
            self.raw.message_id,
            queue,
            target,
            reason,
            queue,
            pause,
        )
        signals.emit(
            signals.retry_publisher_message_requeued,
            self.runtime.sender,
            {"pause_ms": int(pause * 1000), "system_time": signals.system_time()},
            {"queue": queue, "target": target, "reason": reason},
        )
        try:
            await asyncio.sleep(pause)
        finally:  # also when cancelled (a stop during the pause): give the message back
            await self._nack_original()

    async def _nack_original(self) -> None:
        """Nack the original with requeue, bounded; a failure leaves it to the broker."""
        try:  # bounded: a stop that cancelled this waits for it
            await bounded(self.original.nack(requeue=True))
        except Exception as exc:  # the channel is gone, or it was settled already
            logger.debug("nack of message %s failed: %r", self.raw.message_id, exc)

    def announce(self, decision: RetryDecision, exc: BaseException) -> None:
        """The one log line of the outcome, written when the copy is sent.

        Before the copy leaves, so the lines of one message come in the order things happened
        (also under TestRabbitBroker, where a copy is delivered again before ``send`` returns);
        a copy that is not confirmed is followed by the line saying where the message went
        instead.
        """
        if decision.action == "retry":
            self.log.warning(
                "retry %d/%d in %s ms via %s (%s: %s)",
                decision.retry_count,
                self._retry_limit(),
                decision.delay_ms,
                decision.queue,
                type(exc).__name__,
                exc,
            )
            return
        self.log.error(
            "dead-lettered to %s after %s, reason %s (%s: %s)",
            decision.queue,
            retries_text(decision.arrived_with),
            decision.reason,
            type(exc).__name__,
            exc,
            exc_info=exc if decision.reason != "no_handler" else None,
        )

    def report(self, decision: RetryDecision, exc: BaseException) -> None:
        """The signal of a confirmed copy."""
        queue = self.subscriber.queue_name
        if decision.action == "retry":
            signals.emit(
                signals.retry_publisher_message_retried,
                self.runtime.sender,
                {"retry_count": decision.retry_count, "system_time": signals.system_time()},
                {"queue": queue, "delay_queue": decision.queue, "delay_ms": decision.delay_ms},
            )
            return
        signals.emit(
            signals.retry_publisher_message_dead_lettered,
            self.runtime.sender,
            {"retry_count": decision.arrived_with, "system_time": signals.system_time()},
            {
                "queue": queue,
                "dead_queue": decision.queue,
                "exception": type(exc).__name__,
                "reason": decision.reason,
            },
        )

    def _retry_limit(self) -> int:
        limit = self.subscriber.hare.retry_limit
        return self.runtime.settings.retry_limit if limit is None else limit
