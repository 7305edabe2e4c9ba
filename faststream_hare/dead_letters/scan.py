"""A scan of ``Q.dead``: read head to tail, give back what is not taken.

Why a scan *holds* messages: ``basic.get`` followed by an immediate ``nack(requeue)`` puts
the message back at the head of the queue, so the next ``basic.get`` returns it again. A scan
therefore keeps every message it does not take unacked on its channel and gives them all back
at the end. A classic queue puts requeued messages back at their original positions, so
``Q.dead`` keeps its order; a quorum queue on RabbitMQ 3.10 puts them behind the messages no
reader holds, so a scan that stops before the tail (a count reached, a sample smaller than the
queue) moves what it read to the tail (measured; 4.0.5 keeps the order, for a scan and a browse).

Why a scan may *re-file* a message: on a quorum queue every message given back counts towards
the queue's delivery limit, whatever the way back (``nack``/``reject`` with requeue, a closed
channel, a cancelled consumer, ``basic.recover``, AMQP 1.0 ``released``: all measured on
RabbitMQ 3.10.8 and 4.0.5), and RabbitMQ 4.0 gives every quorum queue a limit of 20 unless
told otherwise. A message given back once more than the limit is deleted by the broker. So a
held message whose next return would bring it to the limit is not given back: a confirmed
copy of it (same body, properties and headers) goes to the tail of ``Q.dead`` first, then the
original is acked. Nothing is lost; only such a message moves to the tail. A ``Q.dead``
without a delivery limit (``x-delivery-limit: -1`` on RabbitMQ 4) never needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final, Literal

import aiormq.exceptions
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage, AbstractQueue

from faststream_hare._internal.channels import bounded, close_quietly, open_plain_channel
from faststream_hare.contract.copies import MessageCopy
from faststream_hare.contract.names import dead_queue_name
from faststream_hare.dead_letters.letters import DeadLetter
from faststream_hare.errors import ConfirmError, QueueNotFoundError
from faststream_hare.topology.delivery_limit import default_limit, server_version

#: A message still unacked on the scan's channel, and what it shows.
ScanItem = tuple[AbstractIncomingMessage, DeadLetter]
#: Publishes a copy to a queue and returns once the broker confirmed it (else raises).
Sender = Callable[[str, MessageCopy], Awaitable[None]]
#: ``delivery_limit=AUTO``: the broker's default (20 on RabbitMQ 4, none before).
AUTO: Final = "auto"

logger = logging.getLogger("faststream_hare.dead_letters")


def link_lost(exc: BaseException, channel: AbstractChannel | None) -> bool:
    """True when ``exc`` says the scan's link (connection or channel) is gone or stuck.

    aiormq reports a cut link in several ways (``AMQPError``s, ``ChannelInvalidStateError``,
    ``ConnectionError``, a timed-out operation, even a bare ``RuntimeError``): all but the
    last are taken as a loss, any error at all once the channel is closed.
    """
    if isinstance(
        exc,
        aiormq.exceptions.AMQPError
        | aiormq.exceptions.ChannelInvalidStateError
        | ConnectionError
        | asyncio.TimeoutError,
    ):
        return True
    return isinstance(exc, Exception) and channel is not None and channel.is_closed


def lost_link_reason(cause: BaseException) -> str:
    """One phrase for a lost link (the exception's class: aiormq's texts can hold the URL)."""
    return f"the link to RabbitMQ was lost ({type(cause).__name__})"


def broker_default_limit(connection: AbstractConnection) -> int | None:
    """The delivery limit RabbitMQ gives a quorum queue without one: 20 from 4.0, none before."""
    return default_limit(server_version(connection))


def delivery_count(message: AbstractIncomingMessage) -> int:
    """How often the broker has had ``message`` back (``x-delivery-count``; 0 when absent)."""
    value = (message.headers or {}).get("x-delivery-count")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def letter_of(message: AbstractIncomingMessage, position: int) -> DeadLetter:
    """What a scan shows of one message."""
    properties = {
        "content_type": message.content_type,
        "content_encoding": message.content_encoding,
        "message_id": message.message_id,
        "correlation_id": message.correlation_id,
        "timestamp": message.timestamp,
        "type": message.type,
        "app_id": message.app_id,
        "priority": message.priority,
        "reply_to": message.reply_to,
        "delivery_mode": int(message.delivery_mode) if message.delivery_mode else None,
    }
    return DeadLetter(
        position=position,
        body=bytes(message.body),
        headers=dict(message.headers or {}),
        properties={k: v for k, v in properties.items() if v is not None},
    )


@dataclass
class DeadScan:
    """Reads ``Q.dead`` head to tail once; messages not taken go back at the end."""

    queue: str
    channel: AbstractChannel
    dead: AbstractQueue
    depth_at_start: int
    held: list[AbstractIncomingMessage] = field(default_factory=list)
    read: int = 0
    #: Stop at ``depth_at_start`` (a replay or purge) rather than at the end of the queue.
    to_depth: bool = True
    #: Returns a message may take before the broker deletes it (``None``: no limit).
    delivery_limit: int | None = None
    #: Re-files messages whose next return would reach ``delivery_limit`` (``None``: never).
    refile: Sender | None = None
    refiled: int = 0

    @property
    def dead_name(self) -> str:
        return dead_queue_name(self.queue)

    async def next(self, limit: int | None = None) -> ScanItem | None:
        """The next message, or ``None`` at the end (of what was there when the scan began).

        Stopping at the depth seen at the start (``to_depth``) means a message replayed by this
        scan that fails again (and is dead-lettered anew at the tail) is not picked up a second
        time. A read goes on to the end instead: a quorum queue's depth lags behind publishes
        by a moment, so it could tell a reader "empty" just after a re-file.
        """
        bound = self.depth_at_start if self.to_depth and self.read else None
        if limit is not None:
            bound = limit if bound is None else min(limit, bound)
        if bound is not None and self.read >= bound:
            return None
        message = await self.dead.get(no_ack=False, fail=False)
        if message is None:
            return None
        if self.read == 0 and isinstance(message.message_count, int):
            # The queue's own count, as it hands out the first message: a quorum queue's
            # declare-ok count lags behind publishes by a moment (it may say 0 just after a
            # re-file), get-ok's does not.
            self.depth_at_start = message.message_count + 1
        letter = letter_of(message, self.read)
        self.read += 1
        return message, letter

    def hold(self, message: AbstractIncomingMessage) -> None:
        """Keep ``message`` unacked until the scan ends (it stays in ``Q.dead``)."""
        self.held.append(message)

    def too_often_returned(self, message: AbstractIncomingMessage) -> bool:
        """True when giving ``message`` back would bring it to the delivery limit."""
        limit = self.delivery_limit
        return limit is not None and limit >= 0 and delivery_count(message) + 1 >= limit

    async def give_back(self) -> None:
        """Requeue every held message (back in place on a classic queue; see the module note);
        re-file the ones another return would bring to the delivery limit."""
        held, self.held = self.held, []
        for message in held:
            if self.too_often_returned(message) and await self._refile(message):
                continue
            try:
                await bounded(message.nack(requeue=True))
            except Exception:  # the link is gone or stuck
                # Not lost: the rest are still unacked on this channel, and RabbitMQ gives
                # them back when it closes; one bounded wait is enough.
                return

    async def give_back_hot(self) -> None:
        """Re-file the held messages another return would bring to the limit; keep the rest."""
        self.held = [
            m for m in self.held if not (self.too_often_returned(m) and await self._refile(m))
        ]

    async def _refile(self, message: AbstractIncomingMessage) -> bool:
        """A confirmed copy to the tail of ``Q.dead``, then ack the original; False if not."""
        if self.refile is None:
            return False
        try:
            await self.refile(self.dead_name, MessageCopy.of(message))
        except ConfirmError as failure:
            logger.warning(
                "A message of '%s' was returned %d times and may reach its delivery limit; "
                "its copy to the tail was not confirmed (%s)",
                self.dead_name,
                delivery_count(message),
                failure,
            )
            return False
        # The copy is confirmed at the tail: an ack that fails or times out leaves the
        # original unacked, to come back with the channel (a duplicate in Q.dead, not a loss).
        with contextlib.suppress(Exception):
            await bounded(message.ack())
        self.refiled += 1
        logger.warning(
            "Moved a message of '%s' to its tail: it was read %d times and the queue's delivery "
            "limit is %s (give Q.dead no delivery limit to keep reads from ever moving one)",
            self.dead_name,
            delivery_count(message),
            self.delivery_limit,
        )
        return True


async def declare_dead(channel: AbstractChannel, queue: str) -> tuple[AbstractQueue, int]:
    """``queue.dead`` by passive declare, and its depth; one sentence when it is missing."""
    name = dead_queue_name(queue)
    try:
        dead = await channel.declare_queue(name, passive=True)
    except aiormq.exceptions.ChannelNotFoundEntity:
        msg = f"Queue '{name}' does not exist; check the queue name (give Q, not Q.dead)."
        raise QueueNotFoundError(msg) from None
    return dead, int(dead.declaration_result.message_count or 0)


@contextlib.asynccontextmanager
async def scan_dead(
    connection: AbstractConnection,
    queue: str,
    *,
    refile: Sender | None = None,
    delivery_limit: int | Literal["auto"] | None = AUTO,
    to_depth: bool = True,
) -> AsyncIterator[DeadScan]:
    """A ``DeadScan`` of ``queue.dead`` on a channel of its own, always given back.

    ``delivery_limit`` is the one in force on ``queue.dead`` (``"auto"``: the broker's
    default); ``refile`` publishes the copies of messages that reach it.
    """
    limit = broker_default_limit(connection) if isinstance(delivery_limit, str) else delivery_limit
    channel = await open_plain_channel(connection)
    try:
        dead, depth = await declare_dead(channel, queue)
        scan = DeadScan(
            queue=queue,
            channel=channel,
            dead=dead,
            depth_at_start=depth,
            delivery_limit=limit,
            refile=refile,
            to_depth=to_depth,
        )
        try:
            yield scan
        finally:
            await scan.give_back()
    finally:
        await close_quietly(channel)
