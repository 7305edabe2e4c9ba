"""Grouping dead letters for people (``--group-by``, the console's groups); no I/O.

What a dead letter is and which ``--where`` filters select it live in the library
(``faststream_hare.dead_letters``); this module only decides how operators see them together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from faststream_hare.dead_letters import (
    DeadLetter,
    Where,
    check_count,
    matches_all,
    parse_rate,
    parse_where,
    parse_wheres,
    text_or_none,
)
from faststream_hare.errors import HareConfigError

__all__ = (
    "GROUP_BY_CHOICES",
    "NO_EXCEPTION",
    "DeadGroup",
    "DeadLetter",
    "GroupBy",
    "Where",
    "check_count",
    "group_dead",
    "group_key",
    "header_items",
    "matches_all",
    "parse_rate",
    "parse_where",
    "parse_wheres",
)

GroupBy = Literal["exception", "error", "none"]
GROUP_BY_CHOICES: tuple[GroupBy, ...] = ("exception", "error", "none")
#: The group of messages that carry no ``hare-exception`` header.
NO_EXCEPTION = "(none)"


@dataclass(frozen=True)
class DeadGroup:
    """Dead letters that share a key (an exception type, or an error text)."""

    key: str
    count: int
    first_position: int
    last_position: int
    first_seen: datetime | None
    last_seen: datetime | None
    sample_error: str | None
    exceptions: tuple[str, ...]

    @property
    def where(self) -> tuple[Where, ...]:
        """The filter that selects this group again (for a replay or a purge)."""
        if len(self.exceptions) == 1:
            exc = "" if self.exceptions[0] == NO_EXCEPTION else self.exceptions[0]
            return (Where("exception", "=", exc),)
        return ()


def group_key(letter: DeadLetter, by: GroupBy) -> str:
    """The group a letter belongs to under ``--group-by``."""
    if by == "exception":
        return letter.exception or NO_EXCEPTION
    if by == "error":
        return (letter.error or "").splitlines()[0][:200] if letter.error else NO_EXCEPTION
    return "all"


def group_dead(letters: Iterable[DeadLetter], by: GroupBy = "exception") -> list[DeadGroup]:
    """Group in queue order; groups are sorted by size (largest first), then first position."""
    if by not in GROUP_BY_CHOICES:
        msg = f"--group-by {by!r} is not known; use one of {', '.join(GROUP_BY_CHOICES)}."
        raise HareConfigError(msg)
    members: dict[str, list[DeadLetter]] = {}
    for letter in letters:
        members.setdefault(group_key(letter, by), []).append(letter)
    groups = [_group(key, items) for key, items in members.items()]
    return sorted(groups, key=lambda g: (-g.count, g.first_position))


def _group(key: str, items: list[DeadLetter]) -> DeadGroup:
    stamps = [i.timestamp for i in items if i.timestamp is not None]
    errors = [i.error for i in items if i.error]
    return DeadGroup(
        key=key,
        count=len(items),
        first_position=items[0].position,
        last_position=items[-1].position,
        first_seen=min(stamps) if stamps else None,
        last_seen=max(stamps) if stamps else None,
        sample_error=errors[0] if errors else None,
        exceptions=tuple(dict.fromkeys(i.exception or NO_EXCEPTION for i in items)),
    )


def header_items(headers: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Headers as display text, sorted by name."""
    return [(k, text_or_none(v) or "") for k, v in sorted(headers.items())]
