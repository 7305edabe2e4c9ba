"""``retry_count`` encodes as an AMQP long; credentials never leak."""

from __future__ import annotations

from pamqp import encode

from faststream_hare._internal.masking import mask_url
from faststream_hare.contract.amqp_long import AmqpLong


def test_amqp_long_is_encoded_with_type_l() -> None:
    assert encode.encode_table_value(AmqpLong(1)) == b"l" + (1).to_bytes(8, "big", signed=True)
    assert encode.field_table({"retry_count": AmqpLong(3)}).endswith(
        b"\x0bretry_countl" + (3).to_bytes(8, "big", signed=True)
    )


def test_plain_ints_keep_pamqps_smallest_type() -> None:
    assert encode.encode_table_value(1)[:1] == b"b"
    assert encode.encode_table_value(1_000)[:1] == b"s"


def test_mask_url() -> None:
    assert mask_url("amqp://guest:s3cret@host:5672/vh") == "amqp://guest:***@host:5672/vh"
    assert mask_url("redis://:pw@h:6379/0") == "redis://:***@h:6379/0"
    assert mask_url("amqp://host/") == "amqp://host/"
