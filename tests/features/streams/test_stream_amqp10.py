"""The AMQP 1.0 decoder for stream entries, type by type (AMQP 1.0 part 1, section 1.6)."""

from __future__ import annotations

import struct
import uuid
from datetime import datetime, timezone
from typing import Any

import pytest
from rstream import AMQPMessage, Properties
from rstream.amqp import amqp_decoder

from faststream_hare._internal.amqp10 import CONTENT_TYPE, MESSAGE_ID, decode_message
from faststream_hare.errors import AmqpDecodeError


def value_section(encoded: bytes) -> bytes:
    """An ``amqp-value`` body section holding ``encoded``."""
    return b"\x00\x53\x77" + encoded


def decoded(encoded: bytes) -> Any:
    return decode_message(value_section(encoded)).value


U = uuid.UUID("12345678-1234-5678-1234-567812345678")


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        (b"\x40", None),
        (b"\x41", True),
        (b"\x42", False),
        (b"\x56\x01", True),
        (b"\x56\x00", False),
        (b"\x50\xff", 255),
        (b"\x51\xff", -1),
        (b"\x60\x01\x00", 256),
        (b"\x61\xff\xfe", -2),
        (b"\x70\x00\x01\x00\x00", 65536),
        (b"\x52\x07", 7),
        (b"\x43", 0),
        (b"\x80" + (2**40).to_bytes(8, "big"), 2**40),
        (b"\x53\x09", 9),
        (b"\x44", 0),
        (b"\x71\xff\xff\xff\xfd", -3),
        (b"\x54\xfd", -3),
        (b"\x81" + (-(2**40)).to_bytes(8, "big", signed=True), -(2**40)),
        (b"\x55\x05", 5),
        (b"\x72" + struct.pack(">f", 1.5), 1.5),
        (b"\x82" + struct.pack(">d", 2.25), 2.25),
        (b"\x73\x00\x00\x00\x41", "A"),
        (
            b"\x83" + (1_704_067_200_000).to_bytes(8, "big"),
            datetime(2024, 1, 1, tzinfo=timezone.utc),
        ),
        (b"\x98" + U.bytes, U),
        (b"\xa0\x02\x00\x01", b"\x00\x01"),
        (b"\xb0\x00\x00\x00\x02\x00\x01", b"\x00\x01"),
        (b"\xa1\x03h\xc3\xa9", "hé"),
        (b"\xb1\x00\x00\x00\x02ok", "ok"),
        (b"\xa3\x03sym", "sym"),
        (b"\xb3\x00\x00\x00\x03sym", "sym"),
        (b"\x74\x01\x02\x03\x04", b"\x01\x02\x03\x04"),  # decimals stay raw
        (b"\x45", []),
        (b"\xc0\x04\x02\x53\x01\x40", [1, None]),
        (b"\xd0\x00\x00\x00\x07\x00\x00\x00\x02\xa1\x01x\x41", ["x", True]),
        (b"\xc1\x06\x02\xa3\x01k\x50\x07", {"k": 7}),
        (b"\xd1\x00\x00\x00\x09\x00\x00\x00\x02\xa1\x01k\xa0\x01v", {"k": b"v"}),
        (b"\xe0\x04\x03\x50\x01\x02\x03", [1, 2, 3]),
        (b"\xf0\x00\x00\x00\x07\x00\x00\x00\x02\xa1\x01a\x01b", ["a", "b"]),
        (b"\x00\xa3\x03foo\xa1\x03bar", "bar"),  # a described value decodes to its value
    ],
)
def test_every_type_encoding(encoded: bytes, expected: Any) -> None:
    assert decoded(encoded) == expected


def test_sections_are_split_and_unread_ones_ignored() -> None:
    raw = (
        b"\x00\x53\x70\xc0\x02\x01\x41"  # header: ignored
        b"\x00\x53\x72\xc1\x05\x02\xa3\x01a\x40"  # message annotations
        + bytes(
            AMQPMessage(
                body=b"payload",
                properties=Properties(message_id=b"m", content_type=b"text/plain"),
                application_properties={"h": 1},
            )
        )
        + b"\x00\x53\x78\xc1\x01\x00"  # footer: ignored
    )
    sections = decode_message(raw)
    assert sections.annotations == {"a": None}
    assert sections.property(MESSAGE_ID) == b"m"  # rstream sends Python bytes as binary
    assert sections.property(CONTENT_TYPE) == "text/plain"
    assert sections.property(99) is None
    assert sections.application_properties == {"h": 1}
    assert sections.data == b"payload"
    assert not sections.has_value


def test_several_data_sections_are_joined() -> None:
    raw = b"\x00\x53\x75\xa0\x02ab" + b"\x00\x53\x75\xa0\x01c"
    assert decode_message(raw).data == b"abc"


def test_sequence_sections_are_joined() -> None:
    raw = b"\x00\x53\x76\xc0\x03\x01\x50\x01" + b"\x00\x53\x76\xc0\x03\x01\x50\x02"
    assert decode_message(raw).value == [1, 2]


def test_agrees_with_rstreams_decoder_on_a_large_body() -> None:
    raw = bytes(AMQPMessage(body=b"x" * 300_000, application_properties={"k": "v"}))
    assert decode_message(raw).data == amqp_decoder(raw).body


@pytest.mark.parametrize(
    "raw",
    [
        b"\x53\x75\xa0\x01x",  # not a described section
        b"\x00\x53\x75\xa0\x05x",  # truncated binary
        b"\x00\x53\x75\xee",  # unknown constructor
        b"\x00\x53\x77\xa1\x02\xff\xfe",  # invalid UTF-8 string
        b"\x00\x53\x74\xc1\x03\x01\x40",  # a map with an odd number of items
    ],
)
def test_malformed_input_raises_one_error_type(raw: bytes) -> None:
    with pytest.raises(AmqpDecodeError):
        decode_message(raw)


def test_identical_annotations_are_decoded_once_and_the_memo_is_bounded() -> None:
    from faststream_hare._internal import amqp10

    annotations = b"\x00\x53\x72\xc1\x0c\x02\xa3\x05x-key\xa1\x02v1"
    first = decode_message(annotations + b"\x00\x53\x75\xa0\x01a")
    second = decode_message(annotations + b"\x00\x53\x75\xa0\x01b")
    assert first.annotations == {"x-key": "v1"}
    assert second.annotations is first.annotations
    assert (first.data, second.data) == (b"a", b"b")
    for n in range(amqp10._ANNOTATIONS_SEEN_MAX + 5):
        key = f"k{n:04d}".encode()
        decode_message(b"\x00\x53\x72\xc1\x09\x02\xa3\x05" + key + b"\x40")
    assert len(amqp10._ANNOTATIONS_SEEN) <= amqp10._ANNOTATIONS_SEEN_MAX
