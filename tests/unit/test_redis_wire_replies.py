"""The dedup store reads Redis replies itself: every reply type it can get, whole or in
pieces, as redis-py (with ``decode_responses=True``) would return them."""

from __future__ import annotations

from typing import Any

import pytest

from faststream_hare._internal import redis_wire
from faststream_hare._internal.redis_wire import RedisReplyError, parse_reply

REPLIES: list[tuple[bytes, Any]] = [
    (b"+OK\r\n", "OK"),
    (b"$-1\r\n", None),
    (b"_\r\n", None),
    (b":42\r\n", 42),
    (b":-3\r\n", -3),
    (b"$0\r\n\r\n", ""),
    (b"$7\r\ngr\xc3\xbc\xc3\x9f\r\r\n", "grüß\r"),  # a bulk string may hold CR and LF
    (b"*2\r\n:1\r\n$1\r\nx\r\n", [1, "x"]),
    (b"*-1\r\n", None),
    (b"*2\r\n*1\r\n+a\r\n$-1\r\n", [["a"], None]),
]


@pytest.mark.parametrize(("raw", "value"), REPLIES)
def test_a_whole_reply_is_read_and_ends_where_it_ends(raw: bytes, value: Any) -> None:
    assert parse_reply(raw + b":9\r\n", 0) == (value, len(raw))


def test_an_error_reply_is_a_value_so_the_replies_after_it_are_still_read() -> None:
    raw = b"-WRONGTYPE Operation against a key\r\n:1\r\n"
    error, end = parse_reply(raw, 0)
    assert isinstance(error, RedisReplyError)
    assert str(error) == "WRONGTYPE Operation against a key"
    assert parse_reply(raw, end) == (1, len(raw))


def test_every_split_of_a_stream_of_replies_reads_the_same_replies() -> None:
    """Sockets deliver bytes in any pieces: a reply cut anywhere waits for the rest."""
    stream = b"".join(raw for raw, _ in REPLIES)
    expected = [value for _, value in REPLIES]
    for cut in range(len(stream) + 1):
        assert _read_in_two_pieces(stream, cut) == expected, f"cut at byte {cut}"


def test_what_is_not_resp_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unexpected Redis reply type"):
        parse_reply(b"HTTP/1.1 400\r\n", 0)
    with pytest.raises(ValueError, match="invalid literal"):
        parse_reply(b":nope\r\n", 0)


def _read_in_two_pieces(stream: bytes, cut: int) -> list[Any]:
    replies: list[Any] = []
    buffer, start = bytearray(), 0
    for piece in (stream[:cut], stream[cut:]):
        buffer += piece
        while True:
            try:
                reply, start = parse_reply(buffer, start)
            except redis_wire._NeedMoreBytesError:
                break
            replies.append(reply)
    return replies
