"""Grouping dead letters for people (``--group-by``, the console's groups); no I/O.

What a dead letter is and which ``--where`` filters select it live in the library
(``faststream_hare.dead_letters``); this module only decides how operators see them together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
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
    "GroupTally",
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
    tally = GroupTally(by)
    for letter in letters:
        tally.add(letter)
    return tally.groups()


@dataclass
class _Running:
    """One group while letters stream by (nothing of a letter is kept but its numbers)."""

    count: int = 0
    first_position: int = 0
    last_position: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    sample_error: str | None = None
    exceptions: dict[str, None] = field(default_factory=dict)


class GroupTally:
    """``group_dead`` one letter at a time, in memory that grows with groups, not letters."""

    def __init__(self, by: GroupBy = "exception") -> None:
        if by not in GROUP_BY_CHOICES:
            msg = f"--group-by {by!r} is not known; use one of {', '.join(GROUP_BY_CHOICES)}."
            raise HareConfigError(msg)
        self.by = by
        self._groups: dict[str, _Running] = {}

    def add(self, letter: DeadLetter) -> None:
        key = group_key(letter, self.by)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Running(first_position=letter.position)
        group.count += 1
        group.last_position = letter.position
        seen = letter.dead_lettered_at
        if seen is not None:
            group.first_seen = seen if group.first_seen is None else min(group.first_seen, seen)
            group.last_seen = seen if group.last_seen is None else max(group.last_seen, seen)
        if group.sample_error is None and letter.error:
            group.sample_error = letter.error
        group.exceptions.setdefault(letter.exception or NO_EXCEPTION)

    def groups(self) -> list[DeadGroup]:
        groups = [
            DeadGroup(
                key=key,
                count=g.count,
                first_position=g.first_position,
                last_position=g.last_position,
                first_seen=g.first_seen,
                last_seen=g.last_seen,
                sample_error=g.sample_error,
                exceptions=tuple(g.exceptions),
            )
            for key, g in self._groups.items()
        ]
        return sorted(groups, key=lambda g: (-g.count, g.first_position))


def header_items(headers: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Headers as display text, sorted by name."""
    return [(k, text_or_none(v) or "") for k, v in sorted(headers.items())]
