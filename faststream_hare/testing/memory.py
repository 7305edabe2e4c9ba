"""In-memory support for ``TestRabbitBroker(HareBroker(...))``.

Under the test broker there is no RabbitMQ, so hare plays its part: a copy sent to a delay
queue is delivered straight back to its subscriber (the delay is not waited for), a copy sent to
``Q.dead`` is kept here, and ``dead_letters(broker, queue)`` shows them to the test.
"""

from __future__ import annotations

import json
import weakref
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faststream.rabbit.testing import build_message

from faststream_hare.topology.plan import dead_queue_name

if TYPE_CHECKING:
    from faststream_hare.broker import HareBroker
    from faststream_hare.retry.copies import MessageCopy
    from faststream_hare.subscriber import HareSubscriber

__all__ = ("DeadLetter", "MemoryTransport", "dead_letters", "memory_queue")

_QUEUES: weakref.WeakKeyDictionary[HareBroker, defaultdict[str, list[MessageCopy]]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True)
class DeadLetter:
    """A dead copy as a test sees it."""

    body: bytes
    headers: dict[str, Any]
    content_type: str | None
    message_id: str | None
    correlation_id: str | None

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


def memory_queue(broker: HareBroker, queue: str) -> list[MessageCopy]:
    """The in-memory contents of a queue nobody consumes (``Q.dead`` and the like)."""
    return _QUEUES.setdefault(broker, defaultdict(list))[queue]


def dead_letters(broker: HareBroker, queue: str) -> list[DeadLetter]:
    """The dead copies of ``queue`` (its ``Q.dead``), oldest first."""
    return [
        DeadLetter(
            body=copy.body,
            headers=dict(copy.headers),
            content_type=copy.content_type,
            message_id=copy.message_id,
            correlation_id=copy.correlation_id,
        )
        for copy in memory_queue(broker, dead_queue_name(queue))
    ]


class MemoryTransport:
    """Delivers delay-queue copies back to their subscriber at once; keeps the rest."""

    def __init__(self, broker: HareBroker) -> None:
        self.broker = broker

    async def send(self, queue: str, copy: MessageCopy) -> None:
        target = self._consumer_of(queue)
        if target is None:
            memory_queue(self.broker, queue).append(copy)
            return
        subscriber, exchange, routing_key = target
        incoming = await build_message(
            copy.body,
            exchange=exchange,
            routing_key=routing_key,
            headers=copy.headers,
            content_type=copy.content_type,
            content_encoding=copy.content_encoding,
            message_id=copy.message_id,
            correlation_id=copy.correlation_id,
            priority=copy.priority,
            reply_to=copy.reply_to,
            persist=True,
        )
        await subscriber.process_message(incoming)

    def _consumer_of(self, queue: str) -> tuple[HareSubscriber, str, str] | None:
        """Who receives a copy sent to ``queue``: its delay queue's owner, or its consumer."""
        settings = self.broker.active_settings
        for subscriber in self.broker.hare_subscribers():
            if subscriber.hare.stream:
                continue
            if queue in subscriber.plan(settings).delay_queues:
                return subscriber, subscriber.queue_name, subscriber.routing_key
            if queue == subscriber.queue_name:
                return subscriber, "", subscriber.queue_name
        return None
