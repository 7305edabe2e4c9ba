"""``MessageCopy``: what hare re-publishes (retry, dead-letter, replay), independent of transport.

A copy keeps the body, content type/encoding, message id, correlation id, priority, type,
app id, reply-to, timestamp and every header. It drops ``expiration`` (it would fight the delay
queue's TTL) and ``user_id`` (RabbitMQ rejects a user id that is not the publishing user's).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import aio_pika
from pamqp.commands import Basic

if TYPE_CHECKING:
    from aio_pika.abc import AbstractIncomingMessage


@dataclass(frozen=True)
class MessageCopy:
    """A message as hare will publish it again."""

    body: bytes
    headers: dict[str, Any] = field(default_factory=dict)
    content_type: str | None = None
    content_encoding: str | None = None
    message_id: str | None = None
    correlation_id: str | None = None
    priority: int | None = None
    message_type: str | None = None
    app_id: str | None = None
    reply_to: str | None = None
    timestamp: datetime | None = None

    @classmethod
    def of(cls, raw: AbstractIncomingMessage) -> MessageCopy:
        """Copy an incoming aio-pika message."""
        return cls(
            body=bytes(raw.body),
            headers=dict(raw.headers or {}),
            content_type=raw.content_type,
            content_encoding=raw.content_encoding,
            message_id=raw.message_id,
            correlation_id=raw.correlation_id,
            priority=raw.priority,
            message_type=raw.type,
            app_id=raw.app_id,
            reply_to=raw.reply_to,
            timestamp=raw.timestamp,
        )

    def with_headers(self, headers: dict[str, Any]) -> MessageCopy:
        """The same copy with other headers."""
        return replace(self, headers=headers)

    def properties(self) -> Basic.Properties:
        """The AMQP properties of the copy, persistent: published as they are, with the body
        (``publish_raw``), no ``aio_pika.Message`` built in between."""
        return Basic.Properties(
            content_type=self.content_type or None,
            content_encoding=self.content_encoding or None,
            headers=self.headers,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            priority=self.priority or 0,
            correlation_id=self.correlation_id or None,
            reply_to=self.reply_to or None,
            message_id=self.message_id or None,
            timestamp=self.timestamp,
            message_type=self.message_type or None,
            app_id=self.app_id or None,
        )
