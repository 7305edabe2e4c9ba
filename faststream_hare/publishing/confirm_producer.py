"""A FastStream producer that sends through hare's confirm channel.

``publish_message`` hands its command to the publisher's middleware stack (so OpenTelemetry,
Prometheus and user ``publish_scope`` middlewares see it, as for ``publisher.publish``), and
this producer at the end of the stack waits for the broker's confirm instead of FastStream's
default channel, which drops a returned message silently.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from aio_pika import DeliveryMode, Message
from faststream.rabbit.parser import AioPikaParser

from faststream_hare._internal.compat import UTC

if TYPE_CHECKING:
    from faststream.rabbit.response import RabbitPublishCommand

    from faststream_hare._internal.confirm import ConfirmedPublisher


class ConfirmProducer:
    """Turns a ``RabbitPublishCommand`` into an AMQP message and publishes it confirmed."""

    def __init__(self, publisher: ConfirmedPublisher, timeout_s: float) -> None:
        self.publisher = publisher
        self.timeout_s = timeout_s

    async def publish(self, cmd: RabbitPublishCommand) -> None:
        """Raise a ``ConfirmError`` subclass unless the broker confirmed the message."""
        await self.publisher.publish(
            await to_message(cmd),
            exchange=cmd.exchange.name,
            routing_key=cmd.destination,
            timeout=self.timeout_s,
        )


async def to_message(cmd: RabbitPublishCommand) -> Message:
    """The AMQP message for ``cmd``; an already encoded body skips FastStream's codec."""
    options = cmd.message_options
    if not isinstance(cmd.body, bytes):  # a middleware replaced the body: encode as FastStream
        return await AioPikaParser.encode_message(
            cmd.body,
            reply_to=cmd.reply_to or None,
            headers=cmd.headers,
            correlation_id=cmd.correlation_id,
            **options,
        )
    return Message(
        cmd.body,
        headers=cmd.headers or None,
        content_type=options.get("content_type"),
        content_encoding=options.get("content_encoding"),
        delivery_mode=DeliveryMode.PERSISTENT
        if options.get("persist")
        else DeliveryMode.NOT_PERSISTENT,
        priority=options.get("priority"),
        correlation_id=cmd.correlation_id,
        reply_to=cmd.reply_to or None,
        expiration=options.get("expiration"),
        message_id=options.get("message_id"),
        # when it was published (as FastStream's own encoder does): operators read it
        timestamp=options.get("timestamp") or datetime.now(UTC),
        type=options.get("message_type"),
        user_id=options.get("user_id"),
        app_id=options.get("app_id"),
    )
