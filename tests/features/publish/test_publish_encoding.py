"""``publish_message``'s encoding rules and ``broker.publisher()``'s hare options (pure)."""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from datetime import datetime

import pytest

from faststream_hare import (
    EncodingFailedError,
    HareBroker,
    HareConfigError,
    HarePublisher,
    PublishResult,
    Unique,
)
from faststream_hare.contract.encoding import EncodedBody, canonical_json, encode_body


def test_a_mapping_is_compact_utf8_json_in_its_own_key_order() -> None:
    encoded = encode_body(OrderedDict([("b", 1), ("a", "é ü"), ("list", [1, 2])]))
    assert encoded == EncodedBody('{"b":1,"a":"é ü","list":[1,2]}'.encode(), "application/json")


def test_bytes_are_sent_as_they_are_without_content_type() -> None:
    raw = bytes(range(256))
    assert encode_body(raw) == EncodedBody(raw, None)


def test_str_is_sent_as_utf8_text() -> None:
    assert encode_body("grüß") == EncodedBody("grüß".encode(), "text/plain")


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ([1, 2], "cannot publish a list"),
        (42, "cannot publish a int"),
        (None, "cannot publish a NoneType"),
        ({"when": datetime(2024, 1, 1)}, "datetime is not JSON serializable"),
        ({"x": math.nan}, "Out of range float values are not JSON compliant"),
        ("\udcff", "cannot encode the str as UTF-8"),
    ],
)
def test_anything_else_fails_with_the_reason(message: object, reason: str) -> None:
    with pytest.raises(EncodingFailedError, match=reason):
        encode_body(message)


def test_canonical_json_sorts_keys_at_every_level() -> None:
    assert canonical_json({"b": {"z": 1, "y": 2}, "a": 1}) == b'{"a":1,"b":{"y":2,"z":1}}'
    assert json.loads(canonical_json({"é": "ü"})) == {"é": "ü"}


def test_publish_result_values_are_stable_strings() -> None:
    assert [r.value for r in PublishResult] == [
        "ok",
        "duplicate",
        "not_connected",
        "unroutable",
        "encoding_failed",
    ]


def test_publisher_is_a_hare_publisher_with_its_exchange_as_topic() -> None:
    broker = HareBroker()
    publisher = broker.publisher(exchange="orders_ex", routing_key="order.created", hare=True)
    assert isinstance(publisher, HarePublisher)
    assert publisher.hare_exchange == "orders_ex"
    assert publisher.exchange.type.value == "topic"
    assert publisher.routing() == "order.created"
    assert publisher.unique is None
    assert publisher.dedup_store is None


def test_default_exchange_publisher_routes_by_queue_name() -> None:
    publisher = HareBroker().publisher(exchange=None, routing_key="jobs")
    assert (publisher.exchange.name, publisher.routing(), publisher.hare_exchange) == (
        "",
        "jobs",
        None,
    )


def test_unique_uses_the_brokers_memory_store_by_default() -> None:
    broker = HareBroker()
    first = broker.publisher(routing_key="a", unique=Unique(period_ms=1_000))
    second = broker.publisher(routing_key="b", unique=Unique())
    assert first.dedup_store is broker.dedup_store is second.dedup_store
    assert len(broker.dedup_store) == 0


@pytest.mark.parametrize(
    ("unique", "match"),
    [
        ({"period_ms": 10}, "unique must be a Unique"),
        (Unique(store="memcached://x"), "Unique.store must be a Redis URL"),
        (Unique(store="redis-host:6379"), "Unique.store must be a Redis URL"),
        (Unique(store=object()), "Unique.store must be a Redis URL or a DedupStore"),  # type: ignore[arg-type]
    ],
)
def test_bad_unique_fails_at_decoration(unique: object, match: str) -> None:
    with pytest.raises(HareConfigError, match=match):
        HareBroker().publisher(routing_key="q", unique=unique)  # type: ignore[arg-type]


def test_bad_store_url_message_never_shows_a_password() -> None:
    with pytest.raises(HareConfigError) as info:
        HareBroker().publisher(routing_key="q", unique=Unique(store="http://u:s3cret@host/"))
    assert "s3cret" not in str(info.value)


def test_redis_store_urls_share_one_store_per_broker() -> None:
    broker = HareBroker()
    url = "redis://127.0.0.1:6379/0"
    a = broker.publisher(routing_key="a", unique=Unique(store=url))
    b = broker.publisher(routing_key="b", unique=Unique(store=url))
    assert a.dedup_store is b.dedup_store
    assert a.dedup_store is not broker.dedup_store
