"""An idempotent delivery: lease the key, run the attempt, mark it done.

Before the handler runs, the delivery's key is leased in the subscriber's idempotency store.
A key already done is acked without running the handler (``consumer.message.duplicate``); a key
leased by another delivery, or a store that cannot be reached, sends the message back to ``Q``
after a pause — never dropped, never handled unchecked. After a success — the handler returned
and FastStream published its return value — the key is marked done (before FastStream acks); a
failure releases the lease before the retry copy is sent, so the retry runs the handler again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NoReturn

from faststream.exceptions import AckMessage, NackMessage

from faststream_hare._internal.channels import bounded
from faststream_hare.dedup.store import Claim
from faststream_hare.idempotency.keys import idempotency_key, key_description
from faststream_hare.idempotency.store import Seen
from faststream_hare.retry.handoff import Handoff
from faststream_hare.retry.requeue_backoff import RequeueBackoff
from faststream_hare.telemetry import signals
from faststream_hare.topology.delivery_limit import requeue_would_near_limit

if TYPE_CHECKING:
    from faststream.rabbit.message import RabbitMessage

    from faststream_hare.config.options import Idempotency
    from faststream_hare.idempotency.store import IdempotencyStore
    from faststream_hare.retry.attempt import Attempt
    from faststream_hare.retry.endpoint import HareEndpoint

logger = logging.getLogger("faststream_hare.idempotency")

#: Pause before a message leased elsewhere goes back to ``Q`` (the lease holder may finish).
BUSY_PAUSE_S = 0.25
#: Pauses while the store cannot be reached: 0.5 s doubling to 5 s, reset once it answers.
STORE_DOWN_FIRST_S = 0.5
STORE_DOWN_MAX_S = 5.0

_store_down: weakref.WeakKeyDictionary[object, RequeueBackoff] = weakref.WeakKeyDictionary()


def _store_down_backoff(subscriber: object) -> RequeueBackoff:
    backoff = _store_down.get(subscriber)
    if backoff is None:
        backoff = _store_down[subscriber] = RequeueBackoff(STORE_DOWN_FIRST_S, STORE_DOWN_MAX_S)
    return backoff


class IdempotentDelivery:
    """Guards one delivery of ``msg`` to an idempotent ``subscriber``."""

    def __init__(
        self,
        subscriber: HareEndpoint,
        options: Idempotency,
        msg: RabbitMessage,
        log: logging.Logger,
    ) -> None:
        self.subscriber = subscriber
        self.options = options
        self.msg = msg
        self.log = log
        runtime = subscriber.hare_runtime
        self.runtime = runtime
        self.store: IdempotencyStore = runtime.idempotency.resolve(
            options.store, runtime.settings.dedup_url
        )
        raw = msg.raw_message
        self.key = idempotency_key(
            subscriber.queue_name, message_id=raw.message_id, body=raw.body, keys=options.keys
        )
        self._lease: Claim | None = None
        #: Set when the done mark waits for the rest of FastStream's processing (``guard.py``).
        self.defer_done = False

    async def run(self, attempt: Attempt, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        """The attempt's result; ``AckMessage`` for a duplicate, ``NackMessage`` to go back."""
        backoff = _store_down_backoff(self.subscriber)
        try:
            verdict = await self.store.acquire(self.key, self.options.lease_ms)
        except Exception as exc:
            await self._back_to_queue(backoff.next_pause(), f"store unreachable: {exc}")
        backoff.reset()
        if not isinstance(verdict, Claim):
            if verdict is Seen.DONE:
                self._duplicate()
                raise AckMessage
            await self._back_to_queue(BUSY_PAUSE_S, "in progress in another delivery")
        self._lease = verdict
        attempt.before_handoff = self._release
        begin_run = getattr(self.store, "begin_run", None)
        if begin_run is not None:  # the store's transaction holds the handler's writes
            attempt.before_run = functools.partial(begin_run, verdict)
        try:
            result = await attempt.run(call_next)
        except BaseException:
            if attempt.handled:
                await self._mark_done()
            else:
                await self._release()
            raise
        if not self.defer_done:
            await self._mark_done()
        return result

    async def complete(self) -> None:
        """The whole processing succeeded (its return value published too): mark it done."""
        await self._mark_done()

    async def abandon(self) -> None:
        """The processing failed after the handler: release the lease so a retry runs it."""
        await self._release()

    def _duplicate(self) -> None:
        queue = self.subscriber.queue_name
        message_id = self.msg.raw_message.message_id
        raw = self.msg.raw_message
        matched = key_description(message_id=message_id, body=raw.body, keys=self.options.keys)
        self.log.info(
            "message %s: a message with the same %s was handled already; acked without running it",
            message_id,
            matched,
        )
        signals.emit(
            signals.consumer_message_duplicate,
            self.runtime.sender,
            {"system_time": signals.system_time()},
            {
                "queue": queue,
                "exchange": self.subscriber.hare.exchange,
                "routing_key": self.subscriber.routing_key,
                "message_id": message_id,
                "idempotency_key": self.key,
            },
        )

    async def _back_to_queue(self, pause: float, reason: str) -> NoReturn:
        """Pause, then nack with requeue (also when cancelled during the pause).

        Where ``Q`` keeps a delivery limit (``topology/delivery_limit.py``) and this return
        could bring it near, the message goes to ``Q.dead`` instead (``delivery_limit``).
        """
        raw = self.msg.raw_message
        limit = getattr(self.subscriber, "delivery_limit", None)
        if requeue_would_near_limit(raw.headers, limit):
            handoff = Handoff(self.subscriber, raw, self.msg, self.log)
            failure = RuntimeError(f"idempotency check impossible: {reason}")
            decision = handoff.decide(dead_reason="delivery_limit")
            handoff.announce(decision, failure)
            if await handoff.send(decision, failure):
                handoff.report(decision, failure)
            raise NackMessage(requeue=True)  # settled already: FastStream leaves it
        level = logging.DEBUG if reason.startswith("in progress") else logging.WARNING
        logger.log(
            level,
            "Message %s of queue '%s' goes back to the queue in %.2f s (%s)",
            self.msg.raw_message.message_id,
            self.subscriber.queue_name,
            pause,
            reason,
        )
        try:
            await asyncio.sleep(pause)
        finally:
            try:  # bounded: after it the broker redelivers (the channel is gone)
                await bounded(self.msg.nack(requeue=True))
            except Exception as exc:  # the channel is gone: the broker requeues it anyway
                logger.debug("nack failed: %r", exc)
        raise NackMessage(requeue=True)

    async def _release(self) -> None:
        lease, self._lease = self._lease, None
        if lease is None:
            return
        try:
            await self.store.release(lease)
        except Exception as exc:
            logger.warning(
                "Could not release the idempotency lease of message %s (%s); a retry waits "
                "until it expires after %d ms",
                self.msg.raw_message.message_id,
                exc,
                self.options.lease_ms,
            )

    async def _mark_done(self) -> None:
        lease, self._lease = self._lease, None
        if lease is None:
            return
        try:
            await self.store.mark_done(lease, self.options.period_ms)
        except Exception as exc:
            if getattr(self.store, "done_commits_effects", False):
                # the done mark commits the handler's own writes (an inbox on PostgreSQL):
                # neither committed, so the message must run again, never be acked
                logger.warning(
                    "Message %s: the handler's transaction did not commit (%s); it goes back "
                    "to the queue and runs again",
                    self.msg.raw_message.message_id,
                    exc,
                )
                try:  # bounded like every ack and nack of a hand-off (handoff.py)
                    await bounded(self.msg.nack(requeue=True))
                except Exception as nack_exc:
                    # A timed-out (or failed) nack loses nothing: locked, the message is never
                    # acked by FastStream after us, so it stays unacked on its channel, and the
                    # broker delivers it again when that channel closes (a link this stalled
                    # is dead) — a redelivery, never a loss.
                    self.msg.raw_message.lock()
                    logger.debug("nack failed: %r", nack_exc)
                return
            logger.warning(
                "Message %s was handled but could not be marked done (%s); a redelivery "
                "after the lease (%d ms) would run the handler again",
                self.msg.raw_message.message_id,
                exc,
                self.options.lease_ms,
            )
