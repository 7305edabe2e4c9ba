"""A scan of ``Q.dead`` that keeps its order: read head to tail, give back what is not taken.

Why a scan *holds* messages: ``basic.get`` followed by an immediate ``nack(requeue)`` puts
the message back at the head of the queue, so the next ``basic.get`` returns it again. A scan
therefore keeps every message it does not take unacked on its channel and gives them all back
at the end; RabbitMQ returns requeued messages to their original positions, so ``Q.dead``
keeps its order (classic and quorum queues, RabbitMQ 3.10 and 4.0).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiormq.exceptions
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage, AbstractQueue

from faststream_hare._internal.channels import close_quietly, open_plain_channel
from faststream_hare.dead_letters.letters import DeadLetter
from faststream_hare.errors import HareError
from faststream_hare.topology.names import dead_queue_name

#: A message still unacked on the scan's channel, and what it shows.
ScanItem = tuple[AbstractIncomingMessage, DeadLetter]


class QueueNotFoundError(HareError):
    """A queue the operation needs does not exist."""


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
    """Reads ``Q.dead`` head to tail once; messages not taken go back in order at the end."""

    queue: str
    channel: AbstractChannel
    dead: AbstractQueue
    depth_at_start: int
    held: list[AbstractIncomingMessage] = field(default_factory=list)
    read: int = 0

    @property
    def dead_name(self) -> str:
        return dead_queue_name(self.queue)

    async def next(self, limit: int | None = None) -> ScanItem | None:
        """The next message, or ``None`` at the end of what was there when the scan began.

        Stopping at the depth seen at the start means a message replayed by this scan that
        fails again (and is dead-lettered anew at the tail) is not picked up a second time.
        """
        bound = self.depth_at_start if limit is None else min(limit, self.depth_at_start)
        if self.read >= bound:
            return None
        message = await self.dead.get(no_ack=False, fail=False)
        if message is None:
            return None
        letter = letter_of(message, self.read)
        self.read += 1
        return message, letter

    def hold(self, message: AbstractIncomingMessage) -> None:
        """Keep ``message`` unacked until the scan ends (it stays in ``Q.dead``)."""
        self.held.append(message)

    async def give_back(self) -> None:
        """Requeue every held message; RabbitMQ puts each back at its original position."""
        held, self.held = self.held, []
        for message in held:
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)


@contextlib.asynccontextmanager
async def scan_dead(connection: AbstractConnection, queue: str) -> AsyncIterator[DeadScan]:
    """A ``DeadScan`` of ``queue.dead`` on a channel of its own, always given back."""
    name = dead_queue_name(queue)
    channel = await open_plain_channel(connection)
    try:
        try:
            dead = await channel.declare_queue(name, passive=True)
        except aiormq.exceptions.ChannelNotFoundEntity:
            msg = f"Queue '{name}' does not exist; check the queue name (give Q, not Q.dead)."
            raise QueueNotFoundError(msg) from None
        depth = int(dead.declaration_result.message_count or 0)
        scan = DeadScan(queue=queue, channel=channel, dead=dead, depth_at_start=depth)
        try:
            yield scan
        finally:
            await scan.give_back()
    finally:
        await close_quietly(channel)
