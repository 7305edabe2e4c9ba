"""In-memory copies for ``TestRabbitBroker(HareBroker(...))``.

Under the test broker there is no RabbitMQ, so hare plays its part: a copy sent to a delay
queue is delivered straight back to its subscriber (the delay is not waited for), a copy sent to
``Q.dead`` is kept here, and ``dead_letters(broker, queue)`` shows them to the test. The broker
binds a new ``MemoryTransport`` for each test-broker session, so nothing leaks between tests.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faststream.rabbit.testing import build_message

from faststream_hare._internal import faststream as _faststream
from faststream_hare.contract.names import dead_queue_name

if TYPE_CHECKING:
    from faststream_hare.config.settings import HareSettings
    from faststream_hare.contract.copies import MessageCopy
    from faststream_hare.subscriber import HareSubscriber

__all__ = ("DeadLetter", "MemoryTransport", "dead_letters")


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


def dead_letters(broker: Any, queue: str) -> list[DeadLetter]:
    """The dead copies of ``queue`` (its ``Q.dead``) kept by ``broker``, oldest first."""
    runtime = getattr(broker, "hare_runtime", None)
    held = runtime.transport.held(dead_queue_name(queue)) if runtime and runtime.in_memory else None
    return [
        DeadLetter(
            body=copy.body,
            headers=dict(copy.headers),
            content_type=copy.content_type,
            message_id=copy.message_id,
            correlation_id=copy.correlation_id,
        )
        for copy in held or ()
    ]


class MemoryTransport:
    """Delivers delay-queue copies back to their subscriber at once; keeps the rest."""

    def __init__(
        self,
        subscribers: Callable[[], Iterable[HareSubscriber]],
        settings: Callable[[], HareSettings],
    ) -> None:
        self._subscribers = subscribers
        self._settings = settings
        self._queues: defaultdict[str, list[MessageCopy]] = defaultdict(list)

    def held(self, queue: str) -> list[MessageCopy]:
        """The copies kept for ``queue`` (``Q.dead`` and the like), oldest first."""
        return self._queues[queue]

    async def send(self, queue: str, copy: MessageCopy) -> None:
        """Deliver to the queue's subscriber at once, or keep the copy."""
        target = self._consumer_of(queue)
        if target is None:
            self._queues[queue].append(copy)
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
        await _faststream.process_message(subscriber, incoming)

    def _consumer_of(self, queue: str) -> tuple[HareSubscriber, str, str] | None:
        """Who receives a copy sent to ``queue``: its delay queue's owner, or its consumer."""
        settings = self._settings()
        for subscriber in self._subscribers():
            if subscriber.hare.stream:
                continue
            if queue in subscriber.plan(settings).delay_queues:
                return subscriber, subscriber.queue_name, subscriber.routing_key
            if queue == subscriber.queue_name:
                return subscriber, "", subscriber.queue_name
        return None
