"""The dedup key rules (HareMq's DedupCache hashing, checked without a store)."""

from __future__ import annotations

import pytest

from faststream_hare import EncodingFailedError
from faststream_hare.contract.encoding import EncodedBody
from faststream_hare.dedup.keys import (
    dedup_key,
    dedup_payload,
    destination_namespace,
    encode_with_key,
)

NS = destination_namespace("orders_ex", "order.created")


def key(message: object, keys: tuple[str, ...] = ()) -> str:
    return dedup_key(message, keys, NS)


def test_the_whole_mapping_is_hashed_canonically() -> None:
    assert key({"id": 1, "key": 1, "value": 2}) == key({"value": 2, "key": 1, "id": 1})
    assert key({"id": 1, "key": 1, "value": 2}) != key({"id": 2, "key": 1, "value": 2})
    assert dedup_payload({"b": 1, "a": {"d": 1, "c": 2}}, ()) == b'{"a":{"c":2,"d":1},"b":1}'


def test_only_the_listed_keys_count() -> None:
    first = {"id": 1, "key": 1, "value": 2}
    other_id = {"id": 2, "key": 1, "value": 2}
    assert key(first, ("key", "value")) == key(other_id, ("key", "value"))
    assert key(first, ("id",)) != key(other_id, ("id",))


def test_missing_keys_are_left_out_as_in_haremq() -> None:
    assert key({"a": 1}, ("id",)) == key({"b": 2}, ("id",))
    assert key({"id": None}, ("id",)) != key({}, ("id",))


def test_one_and_one_point_zero_differ() -> None:
    assert key({"n": 1}) != key({"n": 1.0})


def test_bytes_and_str_are_hashed_as_bytes_and_ignore_keys() -> None:
    assert key(b"abc") == key(b"abc", ("id",)) == key("abc")
    assert key(b"abc") != key(b"abd")
    assert key(bytes(range(256))) == key(bytes(range(256)))


def test_destinations_never_share_keys() -> None:
    message = {"id": 1}
    keys = {
        dedup_key(message, (), destination_namespace(exchange, routing_key))
        for exchange, routing_key in [("a", "b"), ("a", "c"), ("", "b"), ("a|b", ""), ("a", "|b")]
    }
    assert len(keys) == 5


def test_keys_are_128_bit_hex() -> None:
    value = key({"id": 1})
    assert len(value) == 32
    int(value, 16)


def test_a_type_without_a_key_fails_like_encoding() -> None:
    with pytest.raises(EncodingFailedError):
        key([1, 2])


def test_encode_with_key_reuses_the_canonical_body_for_whole_mappings() -> None:
    encoded, whole = encode_with_key({"b": 1, "a": 2}, (), NS)
    assert encoded == EncodedBody(b'{"a":2,"b":1}', "application/json")
    assert whole == key({"a": 2, "b": 1})
    encoded, by_id = encode_with_key({"b": 1, "id": 2}, ("id",), NS)
    assert encoded.body == b'{"b":1,"id":2}'  # the body keeps the message's own order
    assert by_id == key({"id": 2}, ("id",))
    assert encode_with_key(b"raw", (), NS) == (EncodedBody(b"raw", None), key(b"raw"))
