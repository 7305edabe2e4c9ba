"""Turn a message read over the stream protocol into the aio-pika message a handler expects.

A hare stream subscriber is a FastStream RabbitMQ subscriber, so its parser, decoder,
middlewares and handler want an aio-pika ``IncomingMessage``. RabbitMQ stores AMQP 0-9-1
publishes in a stream as AMQP 1.0 messages; this module maps them back (body, properties,
headers, exchange and routing key) so the handler sees what a classic queue would have given
it, plus the ``x-stream-offset`` header RabbitMQ adds when a stream is read over AMQP.

The 0-9-1 properties without a plain AMQP 1.0 twin are stored differently by each RabbitMQ
version, so both places are read:

| property | RabbitMQ 3.x | RabbitMQ 4.x |
|---|---|---|
| priority, delivery mode, expiration | ``x-basic-*`` annotations | header: priority, durable, ttl |
| type | ``x-basic-type`` application property | ``x-basic-type`` annotation |
| app id | ``x-basic-app-id`` application property | ``group-id`` property |
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from aio_pika import DeliveryMode

from faststream_hare._internal.aio_pika_message import StreamIncomingMessage
from faststream_hare._internal.amqp10 import (
    CONTENT_ENCODING,
    CONTENT_TYPE,
    CORRELATION_ID,
    CREATION_TIME,
    DURABLE,
    GROUP_ID,
    MESSAGE_ID,
    PRIORITY,
    PROPERTY_COUNT,
    REPLY_TO,
    TTL,
    USER_ID,
    Sections,
    decode_message,
)

#: Header carrying the message's offset in the stream (the name RabbitMQ uses over AMQP).
OFFSET_HEADER = "x-stream-offset"

# AMQP 0-9-1 properties with no AMQP 1.0 twin travel as annotations/application properties.
_ANNOTATION_PROPERTIES = {
    "x-basic-priority": "priority",
    "x-basic-delivery-mode": "delivery_mode",
    "x-basic-expiration": "expiration",
    "x-basic-type": "message_type",
}
_APPLICATION_PROPERTIES = {"x-basic-type": "message_type", "x-basic-app-id": "app_id"}


def to_incoming_message(raw: bytes, *, offset: int, queue: str) -> StreamIncomingMessage:
    """Decode ``raw``, found at ``offset`` in stream ``queue``, into the aio-pika view of it.

    Raises ``AmqpDecodeError`` when ``raw`` is not an AMQP 1.0 message.
    """
    sections = decode_message(raw)
    annotations = sections.annotations
    basic: dict[str, Any] = {}
    for key, name in _ANNOTATION_PROPERTIES.items():
        if key in annotations:
            basic[name] = annotations[key]
    headers: dict[str, Any] = {}
    for key, value in sections.application_properties.items():
        if key in _APPLICATION_PROPERTIES:
            basic[_APPLICATION_PROPERTIES[key]] = _text(value)
        else:
            headers[_text(key)] = str(value) if isinstance(value, uuid.UUID) else value
    headers[OFFSET_HEADER] = offset
    if sections.header:
        _from_header(sections, basic)
    expiration = basic.pop("expiration", None)
    props = sections.properties
    if len(props) < PROPERTY_COUNT:
        props = [*props, *([None] * (PROPERTY_COUNT - len(props)))]
    if "app_id" not in basic and props[GROUP_ID] is not None:
        basic["app_id"] = _text(props[GROUP_ID])
    body, content_type = _body(sections, _text_or_none(props[CONTENT_TYPE]))
    return StreamIncomingMessage(
        body=body,
        headers=headers,
        exchange=_text(annotations.get("x-exchange", "")),
        routing_key=_text(annotations.get("x-routing-key", queue)),
        content_type=content_type,
        content_encoding=_text_or_none(props[CONTENT_ENCODING]),
        correlation_id=_text_or_none(props[CORRELATION_ID]),
        reply_to=_text_or_none(props[REPLY_TO]),
        message_id=_text_or_none(props[MESSAGE_ID]),
        timestamp=props[CREATION_TIME],
        user_id=_text_or_none(props[USER_ID]),
        expiration=None if expiration is None else float(expiration) / 1000,
        **basic,
    )


def _from_header(sections: Sections, basic: dict[str, Any]) -> None:
    """Priority, delivery mode and expiration as RabbitMQ 4 keeps them (header section)."""
    if "priority" not in basic:
        basic["priority"] = sections.header_field(PRIORITY)
    if "delivery_mode" not in basic and sections.header_field(DURABLE):
        basic["delivery_mode"] = DeliveryMode.PERSISTENT.value
    if "expiration" not in basic:
        basic["expiration"] = sections.header_field(TTL)


def _body(sections: Sections, content_type: str | None) -> tuple[bytes, str | None]:
    """The payload as bytes: data sections as they are, an AMQP value as text or JSON."""
    if sections.data is not None:
        return sections.data, content_type
    if not sections.has_value or sections.value is None:
        return b"", content_type
    value = sections.value
    if isinstance(value, bytes):
        return value, content_type
    if isinstance(value, str):
        return value.encode(), content_type or "text/plain"
    encoded = json.dumps(_jsonable(value), separators=(",", ":"), default=str).encode()
    return encoded, content_type or "application/json"


def _jsonable(value: Any) -> Any:
    """An AMQP value as JSON-able data (binary keys and values become text)."""
    if isinstance(value, bytes):
        return _text(value)
    if isinstance(value, dict):
        return {_text(k) if isinstance(k, bytes) else k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


def _text_or_none(value: Any) -> str | None:
    if value is None or value.__class__ is str:
        return value
    return _text(value)
