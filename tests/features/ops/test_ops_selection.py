"""Pure dead-letter rules: ``--where`` filters, ``--rate``, ``--count``, grouping."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from faststream_hare.errors import HareConfigError
from faststream_hare.ops.selection import (
    NO_EXCEPTION,
    DeadLetter,
    Where,
    check_count,
    group_dead,
    matches_all,
    parse_rate,
    parse_where,
    parse_wheres,
)


def letter(
    position: int,
    exception: str | None,
    error: str = "",
    extra: dict[str, object] | None = None,
    **props: object,
) -> DeadLetter:
    headers: dict[str, object] = {"retry_count": 3, **(extra or {})}
    if exception is not None:
        headers |= {"hare-exception": exception, "hare-error": error}
    return DeadLetter(position, f"body {position}".encode(), headers, dict(props))


LETTERS = [
    # When hare dead-lettered it (its header), and when RabbitMQ did (x-death, naive = UTC);
    # the publish time (timestamp) is not when a message died.
    letter(0, "ValueError", "bad order 7", {"hare-dead-lettered-at": "2026-01-02T00:00:00.000Z"}),
    letter(
        1,
        "TimeoutError",
        "Gateway timed out\nat line 3",
        timestamp=datetime(2020, 1, 1, tzinfo=timezone.utc),
    ),
    letter(2, "ValueError", "bad order 9", {"x-death": [{"time": datetime(2026, 1, 1)}]}),
    letter(3, None, message_id="m3"),
]


def test_parse_where() -> None:
    assert parse_where("exception=ValueError") == Where("exception", "=", "ValueError")
    assert parse_where("error~timed out") == Where("error", "~", "timed out")
    assert parse_where("error~a=b") == Where("error", "~", "a=b")
    assert parse_where("exception=") == Where("exception", "=", "")
    assert str(parse_where("message_id=m1")) == "message_id=m1"


@pytest.mark.parametrize("text", ["colour=red", "exception", "=x", "error"])
def test_bad_where_names_the_option(text: str) -> None:
    with pytest.raises(HareConfigError, match=r"^--where .* is not understood; use exception="):
        parse_where(text)


def test_matching() -> None:
    by_type = parse_wheres(["exception=ValueError"])
    assert [m.position for m in LETTERS if matches_all(m, by_type)] == [0, 2]
    text = parse_wheres(["error~GATEWAY"])  # contains, case-insensitive
    assert [m.position for m in LETTERS if matches_all(m, text)] == [1]
    both = parse_wheres(["exception=ValueError", "error~9"])
    assert [m.position for m in LETTERS if matches_all(m, both)] == [2]
    missing = parse_wheres(["exception="])  # messages without the header
    assert [m.position for m in LETTERS if matches_all(m, missing)] == [3]
    assert all(matches_all(m, ()) for m in LETTERS)
    by_id = parse_wheres(["message_id=m3"])
    assert [m.position for m in LETTERS if matches_all(m, by_id)] == [3]
    one = parse_wheres([f"fingerprint={LETTERS[1].fingerprint}"])
    assert [m.position for m in LETTERS if matches_all(m, one)] == [1]


def test_fingerprint_tells_messages_apart() -> None:
    assert len({m.fingerprint for m in LETTERS}) == len(LETTERS)
    same = DeadLetter(9, LETTERS[0].body, dict(LETTERS[0].headers))  # position is not part of it
    assert same.fingerprint == LETTERS[0].fingerprint


def test_letter_fields() -> None:
    first = LETTERS[0]
    assert (first.exception, first.error, first.retry_count) == ("ValueError", "bad order 7", 3)
    raw = DeadLetter(0, b"", {"hare-exception": b"KeyError", "retry_count": "x"})
    assert (raw.exception, raw.retry_count, raw.message_id, raw.timestamp) == (
        "KeyError",
        0,
        None,
        None,
    )


def test_group_by_exception() -> None:
    groups = group_dead(LETTERS, "exception")
    assert [(g.key, g.count) for g in groups] == [
        ("ValueError", 2),
        ("TimeoutError", 1),
        (NO_EXCEPTION, 1),
    ]
    value_errors = groups[0]
    assert (value_errors.first_position, value_errors.last_position) == (0, 2)
    assert value_errors.first_seen == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert value_errors.last_seen == datetime(2026, 1, 2, tzinfo=timezone.utc)
    assert value_errors.sample_error == "bad order 7"
    assert value_errors.where == (Where("exception", "=", "ValueError"),)
    assert groups[2].where == (Where("exception", "=", ""),)
    assert groups[1].first_seen is None


def test_group_by_error_and_none() -> None:
    by_error = group_dead(LETTERS, "error")
    assert [g.key for g in by_error] == [
        "bad order 7",
        "Gateway timed out",
        "bad order 9",
        NO_EXCEPTION,
    ]
    (everything,) = group_dead(LETTERS, "none")
    assert (everything.key, everything.count, everything.where) == ("all", 4, ())
    assert group_dead([], "exception") == []
    with pytest.raises(HareConfigError, match="--group-by 'type' is not known"):
        group_dead(LETTERS, "type")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "per_second"),
    [(None, None), ("20", 20.0), ("20/s", 20.0), ("600/m", 10.0), (" 0.5/s ", 0.5), (4, 4.0)],
)
def test_parse_rate(text: str | float | None, per_second: float | None) -> None:
    assert parse_rate(text) == per_second


@pytest.mark.parametrize("text", ["fast", "0", "-3/s", "10/h", "/s", True])
def test_bad_rate(text: object) -> None:
    with pytest.raises(HareConfigError, match=r"^--rate .* is not a positive rate; use e.g. 20/s"):
        parse_rate(text)  # type: ignore[arg-type]


def test_check_count() -> None:
    assert check_count(None) is None
    assert check_count(0) == 0
    with pytest.raises(HareConfigError, match=r"^--count must be a whole number >= 0, got -1\.$"):
        check_count(-1)
    with pytest.raises(HareConfigError, match="--limit"):
        check_count(True, "--limit")
