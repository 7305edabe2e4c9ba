"""A message read over the stream protocol looks like the one a classic queue delivers."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from rstream import AMQPMessage, Properties

from faststream_hare._internal.aio_pika_message import StreamIncomingMessage
from faststream_hare.streams.messages import to_incoming_message


def wire(message: AMQPMessage) -> bytes:
    """The bytes a stream entry holds for ``message`` (rstream's encoder)."""
    return bytes(message)


#: A stream entry exactly as RabbitMQ 3.10.8 stored an aio-pika publish of ``{"a":1}`` with
#: properties and headers s="v", i=5, b=True, f=1.5, t=2024-01-01 timezone.utc, big=2**40, neg=-3.
RABBITMQ_ENTRY = (
    b"\x00Sr\xc1y\n\xa3\rx-routing-key\xa1\x11hare_t_explore_s4\xa3\nx-exchange\xa1\x00"
    b"\xa3\x10x-basic-priorityP\x03\xa3\x15x-basic-delivery-modeP\x02"
    b"\xa3\x12x-basic-expiration\xa1\x0560000"
    b"\x00Ss\xc0;\r\xa1\x02m1\xa0\x05guest@@\xa1\x02rq\xa1\x02c1\xa3\x10application/json"
    b"\xa3\x04gzip@\x83\x00\x00\x01\xa2$\x0b\xa6h@@@"
    b"\x00St\xc1b\x12\xa1\x0cx-basic-type\xa1\x03typ\xa1\x0ex-basic-app-id\xa1\x03app"
    b"\xa1\x01bV\x01\xa1\x03big\x81\x00\x00\x01\x00\x00\x00\x00\x00\xa1\x01fr?\xc0\x00\x00"
    b"\xa1\x01iQ\x05\xa1\x03negQ\xfd\xa1\x01s\xa1\x01v\xa1\x01t\x83\x00\x00\x01\x8c\xc2Q\xf4\x00"
    b'\x00Su\xa0\x07{"a":1}'
)


def test_rabbitmq_entry_maps_back_to_what_a_classic_queue_delivers() -> None:
    message = to_incoming_message(RABBITMQ_ENTRY, offset=41, queue="ignored")
    assert isinstance(message, StreamIncomingMessage)
    assert message.body == b'{"a":1}'
    assert message.headers == {
        "s": "v",
        "i": 5,
        "b": True,
        "f": 1.5,
        "t": datetime(2024, 1, 1, tzinfo=timezone.utc),
        "big": 2**40,
        "neg": -3,
        "x-stream-offset": 41,
    }
    assert (message.message_id, message.correlation_id) == ("m1", "c1")
    assert (message.content_type, message.content_encoding) == ("application/json", "gzip")
    assert (message.reply_to, message.user_id) == ("rq", "guest")
    assert (message.type, message.app_id) == ("typ", "app")
    assert (message.priority, int(message.delivery_mode), message.expiration) == (3, 2, 60.0)
    assert message.timestamp == datetime.fromtimestamp(1_795_901_073, tz=timezone.utc)
    assert (message.exchange, message.routing_key) == ("", "hare_t_explore_s4")


#: One aio-pika publish (priority 4, app_id "billing", type "order.created", expiration 60 s,
#: persistent, header tenant=acme) as RabbitMQ 3.10.8 and 4.0.5 stored it in a stream: 4.0
#: keeps priority, durability and TTL in the header section, the type as a message annotation
#: and the app id as ``group-id``.
ENTRIES_OF_ONE_PUBLISH = {
    "3.10.8": (
        b"\x00Sr\xc1{\n\xa3\rx-routing-key\xa1\x13r4infra_dump_stream\xa3\nx-exchange\xa1\x00"
        b"\xa3\x10x-basic-priorityP\x04\xa3\x15x-basic-delivery-modeP\x02"
        b"\xa3\x12x-basic-expiration\xa1\x0560000"
        b"\x00Ss\xc05\r\xa1\x03m-1\xa0\x05guest@@\xa1\x07replies\xa1\x03c-1"
        b"\xa3\x10application/json@@@@@@"
        b"\x00St\xc1E\x06\xa1\x0cx-basic-type\xa1\rorder.created"
        b"\xa1\x0ex-basic-app-id\xa1\x07billing\xa1\x06tenant\xa1\x04acme"
        b'\x00Su\xa0\t{"k":"v"}'
    ),
    "4.0.5": (
        b"\x00Sp\xc0\x0b\x05AP\x04p\x00\x00\xea`AC"
        b"\x00Sr\xc1P\x06\xa3\x0cx-basic-type\xa1\rorder.created\xa3\nx-exchange\xa1\x00"
        b"\xa3\rx-routing-key\xa1\x13r4infra_dump_stream"
        b"\x00Ss\xc0=\r\xa1\x03m-1\xa0\x05guest@@\xa1\x07replies\xa1\x03c-1"
        b"\xa3\x10application/json@@@\xa1\x07billing@@"
        b"\x00St\xc1\x0f\x02\xa1\x06tenant\xa1\x04acme"
        b'\x00Su\xa0\t{"k":"v"}'
    ),
}


@pytest.mark.parametrize("version", sorted(ENTRIES_OF_ONE_PUBLISH))
def test_each_rabbitmq_version_maps_back_to_the_same_properties(version: str) -> None:
    message = to_incoming_message(ENTRIES_OF_ONE_PUBLISH[version], offset=7, queue="ignored")
    assert message.body == b'{"k":"v"}'
    assert message.headers == {"tenant": "acme", "x-stream-offset": 7}
    assert (message.message_id, message.correlation_id, message.reply_to) == (
        "m-1",
        "c-1",
        "replies",
    )
    assert (message.content_type, message.user_id) == ("application/json", "guest")
    assert (message.priority, message.app_id, message.type) == (4, "billing", "order.created")
    assert (int(message.delivery_mode), message.expiration) == (2, 60.0)
    assert (message.exchange, message.routing_key) == ("", "r4infra_dump_stream")


def test_stream_protocol_producer_message_maps_too() -> None:
    stored = AMQPMessage(
        body=b"{}",
        properties=Properties(
            message_id=b"m1", content_type=b"application/json", creation_time=1_700_000_000_000
        ),
        application_properties={"tenant": "acme", "blob": b"\xff\x00"},
        message_annotations={b"x-exchange": b"orders_ex", b"x-routing-key": b"order.created"},
    )
    message = to_incoming_message(wire(stored), offset=7, queue="orders")
    assert message.headers == {"tenant": "acme", "blob": b"\xff\x00", "x-stream-offset": 7}
    assert (message.message_id, message.content_type) == ("m1", "application/json")
    assert message.timestamp == datetime.fromtimestamp(1_700_000_000, tz=timezone.utc)
    assert (message.exchange, message.routing_key) == ("orders_ex", "order.created")


def test_bare_message_gets_defaults() -> None:
    message = to_incoming_message(wire(AMQPMessage(body=b"raw")), offset=0, queue="q")
    assert message.body == b"raw"
    assert message.headers == {"x-stream-offset": 0}
    assert message.content_type is None
    assert (message.exchange, message.routing_key) == ("", "q")


@pytest.mark.parametrize(
    ("value", "body", "content_type"),
    [
        ("hello", b"hello", "text/plain"),
        (b"\x00bin", b"\x00bin", None),
        ({"a": [1, "x"]}, b'{"a":[1,"x"]}', "application/json"),
        (7, b"7", "application/json"),
    ],
)
def test_amqp_value_bodies_from_stream_protocol_producers(
    value: object, body: bytes, content_type: str | None
) -> None:
    message = to_incoming_message(wire(AMQPMessage(value=value)), offset=0, queue="q")
    assert (message.body, message.content_type) == (body, content_type)


async def test_settling_is_a_no_op() -> None:
    message = to_incoming_message(wire(AMQPMessage(body=b"x")), offset=0, queue="q")
    await message.ack()
    await message.nack()
    await message.reject()
    assert message.locked  # FastStream's RabbitMessage skips settling a locked message


def test_fast_constructor_matches_aio_pikas_own() -> None:
    """Guards the direct field setting against aio-pika upgrades."""
    from aio_pika import IncomingMessage
    from aiormq.abc import DeliveredMessage
    from pamqp import commands as spec
    from pamqp.header import ContentHeader

    moment = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    headers = {"tenant": "acme", "x-stream-offset": 7}
    official = IncomingMessage(
        DeliveredMessage(
            delivery=spec.Basic.Deliver(exchange="ex", routing_key="rk"),
            header=ContentHeader(
                properties=spec.Basic.Properties(
                    content_type="application/json",
                    content_encoding="utf-8",
                    headers=headers,
                    delivery_mode=2,
                    priority=4,
                    correlation_id="c1",
                    reply_to="replies",
                    expiration="60000",
                    message_id="m1",
                    timestamp=moment,
                    message_type="t",
                    user_id="guest",
                    app_id="billing",
                )
            ),
            body=b"{}",
            channel=None,  # type: ignore[arg-type]
        )
    )
    fast = StreamIncomingMessage(
        body=b"{}",
        headers=headers,
        exchange="ex",
        routing_key="rk",
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=2,
        priority=4,
        correlation_id="c1",
        reply_to="replies",
        expiration=60.0,
        message_id="m1",
        timestamp=moment,
        message_type="t",
        user_id="guest",
        app_id="billing",
    )
    assert fast.info() == official.info()
    assert (fast.locked, fast.processed) == (official.locked, official.processed)
    assert fast.properties == official.properties
    bare = StreamIncomingMessage(body=b"", headers={}, exchange="", routing_key="q")
    bare_official = IncomingMessage(
        DeliveredMessage(
            delivery=spec.Basic.Deliver(exchange="", routing_key="q"),
            header=ContentHeader(properties=spec.Basic.Properties(headers={})),
            body=b"",
            channel=None,  # type: ignore[arg-type]
        )
    )
    assert bare.info() == bare_official.info()
