"""The dedup store writes its commands itself: byte for byte what redis-py would send."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio.connection import Connection

from faststream_hare.dedup.redis_link import pack

COMMANDS: list[tuple[Any, ...]] = [
    ("SET", "hare:dedup:k", "0f3a.1", "NX", "PX", 60_000),
    ("SET", "hare:dedup:grüß", "t", "NX"),
    ("EVAL", "return 0\r\n", 1, "hare:dedup:k", "0f3a.1"),
    ("GET", b"\x00\xffraw"),
]


@pytest.mark.parametrize("command", COMMANDS)
def test_one_command_is_packed_as_redis_py_packs_it(command: tuple[Any, ...]) -> None:
    assert pack([command]) == b"".join(Connection().pack_command(*command))


def test_a_batch_is_the_commands_one_after_the_other() -> None:
    assert pack(COMMANDS) == b"".join(Connection().pack_commands(COMMANDS))
    assert pack([]) == b""
