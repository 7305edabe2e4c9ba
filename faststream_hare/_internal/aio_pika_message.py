"""``StreamIncomingMessage``: aio-pika's ``IncomingMessage`` built from its private fields.

The ONLY module that writes aio-pika's private fields. A hare stream subscriber hands FastStream
the aio-pika message it expects; building one for every message a stream delivers through
aio-pika's constructor would cost about 10 µs of validation of values already in final form.
``tests/features/internals/test_stream_messages.py`` checks the result against aio-pika's own
constructor, field by field, so an aio-pika upgrade cannot drift silently.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aio_pika import DeliveryMode, IncomingMessage

_NOT_PERSISTENT = DeliveryMode.NOT_PERSISTENT
_DELIVERY_MODES: dict[int | None, DeliveryMode] = {mode.value: mode for mode in DeliveryMode}


class StreamIncomingMessage(IncomingMessage):
    """An ``IncomingMessage`` read from a stream: nothing to settle, so settling is a no-op.

    The broker closes the whole connection on a nack or reject of a stream message; a stream
    message also needs no ack (its position is the consumer's offset).

    It is built for every message a stream delivers, so it skips aio-pika's generic
    constructor (about 10 µs of validation of values we already hold in final form) and sets
    the fields directly. ``tests/features/internals/test_stream_messages.py`` checks the result
    against aio-pika's own constructor, field by field, so an aio-pika upgrade cannot drift
    silently.
    """

    __slots__ = ()

    def __init__(
        self,
        *,
        body: bytes,
        headers: dict[str, Any],
        exchange: str,
        routing_key: str,
        content_type: str | None = None,
        content_encoding: str | None = None,
        delivery_mode: int | None = None,
        priority: int | None = None,
        correlation_id: str | None = None,
        reply_to: str | None = None,
        expiration: float | None = None,
        message_id: str | None = None,
        timestamp: datetime | None = None,
        message_type: str | None = None,
        user_id: str | None = None,
        app_id: str | None = None,
    ) -> None:
        set_field = object.__setattr__  # aio-pika's __setattr__ checks a lock on every field
        set_field(self, "_Message__lock", True)  # as aio-pika does for a message without a tag
        set_field(self, "_IncomingMessage__channel", None)
        set_field(self, "_IncomingMessage__no_ack", False)
        set_field(self, "_IncomingMessage__processed", True)
        set_field(self, "body", body)
        set_field(self, "body_size", len(body))
        set_field(self, "headers", headers)
        set_field(self, "content_type", content_type or None)
        set_field(self, "content_encoding", content_encoding or None)
        set_field(self, "delivery_mode", _DELIVERY_MODES.get(delivery_mode, _NOT_PERSISTENT))
        set_field(self, "priority", priority or 0)
        set_field(self, "correlation_id", correlation_id or None)
        set_field(self, "reply_to", reply_to or None)
        set_field(self, "expiration", expiration)
        set_field(self, "message_id", message_id or None)
        set_field(self, "timestamp", timestamp)
        set_field(self, "type", message_type or None)
        set_field(self, "user_id", user_id or None)
        set_field(self, "app_id", app_id or None)
        set_field(self, "cluster_id", "")
        set_field(self, "consumer_tag", None)
        set_field(self, "delivery_tag", None)
        set_field(self, "exchange", exchange)
        set_field(self, "message_count", None)
        set_field(self, "redelivered", False)
        set_field(self, "routing_key", routing_key)

    async def ack(self, multiple: bool = False) -> None:
        """Streams are not acked; the consumer's offset records progress."""

    async def nack(self, multiple: bool = False, requeue: bool = True) -> None:
        """Never sent for a stream message (RabbitMQ would close the connection)."""

    async def reject(self, requeue: bool = False) -> None:
        """Never sent for a stream message (RabbitMQ would close the connection)."""
