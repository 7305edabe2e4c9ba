"""Dead letters as JSON lines and as readable bodies."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

from faststream_hare.ops.records import body_fields, jsonable, letter_record, pretty_body, preview
from faststream_hare.ops.selection import DeadLetter


def test_jsonable_covers_amqp_values() -> None:
    value = {
        "b": b"text",
        "raw": b"\xff",
        "when": datetime(2026, 1, 1, tzinfo=timezone.utc),
        "amount": Decimal("1.50"),
        "list": [1, b"x"],
        "other": object,
    }
    result = jsonable(value)
    assert result["b"] == "text"
    assert result["raw"] == {"base64": "/w=="}
    assert result["when"] == "2026-01-01T00:00:00+00:00"
    assert result["amount"] == "1.50"
    assert result["list"] == [1, "x"]
    assert result["other"].startswith("<class")
    json.dumps(result)


def test_record_is_one_json_object() -> None:
    letter = DeadLetter(
        2,
        b'{"id": 1}',
        {"retry_count": 5, "hare-exception": "KeyError", "hare-error": "'id'"},
        {"message_id": "m2", "content_type": "application/json"},
    )
    record = letter_record(letter)
    assert record["position"] == 2
    assert record["body"] == '{"id": 1}'
    assert (record["exception"], record["error"], record["retry_count"]) == ("KeyError", "'id'", 5)
    assert record["properties"]["message_id"] == "m2"
    assert record["fingerprint"] == letter.fingerprint
    json.dumps(record)


def test_bodies() -> None:
    assert body_fields(b"\xff\x00") == {"body_base64": "/wA="}
    assert pretty_body(DeadLetter(0, b'{"b":1,"a":[2]}')) == '{\n  "a": [\n    2\n  ],\n  "b": 1\n}'
    assert pretty_body(DeadLetter(0, b"plain text")) == "plain text"
    assert pretty_body(DeadLetter(0, b"\xff")).startswith("(binary, base64) ")
    assert preview(DeadLetter(0, b"x" * 100), 10) == "x" * 9 + "…"
    assert preview(DeadLetter(0, b"a\nb")) == "a b"
