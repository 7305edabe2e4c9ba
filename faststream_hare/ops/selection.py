"""Pure dead-letter logic: what a dead message looks like, ``--where`` filters, grouping.

No I/O here, so the rules an operator relies on (which messages a replay touches, how the
console groups them) are tested without a broker.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from faststream_hare.errors import HareConfigError
from faststream_hare.retry.decision import (
    ERROR_HEADER,
    EXCEPTION_HEADER,
    read_retry_count,
)

GroupBy = Literal["exception", "error", "none"]
GROUP_BY_CHOICES: tuple[GroupBy, ...] = ("exception", "error", "none")
#: The group of messages that carry no ``hare-exception`` header.
NO_EXCEPTION = "(none)"
_WHERE_KEYS = ("exception", "error", "message_id", "fingerprint")
_WHERE_HELP = "use exception=TYPE, error~TEXT, message_id=ID or fingerprint=ID"


@dataclass(frozen=True)
class DeadLetter:
    """One message of ``Q.dead`` as read (``position`` 0 = the head of the queue)."""

    position: int
    body: bytes
    headers: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def exception(self) -> str | None:
        """The ``hare-exception`` header (the failure's type name), if any."""
        return _text_or_none(self.headers.get(EXCEPTION_HEADER))

    @property
    def error(self) -> str | None:
        """The ``hare-error`` header (the failure's message), if any."""
        return _text_or_none(self.headers.get(ERROR_HEADER))

    @property
    def retry_count(self) -> int:
        """``retry_count`` as hare reads it (missing or non-integer = 0)."""
        return read_retry_count(self.headers)

    @property
    def message_id(self) -> str | None:
        return _text_or_none(self.properties.get("message_id"))

    @property
    def timestamp(self) -> datetime | None:
        value = self.properties.get("timestamp")
        return value if isinstance(value, datetime) else None

    @property
    def fingerprint(self) -> str:
        """A short id of body and headers: picks out one message even without a message id."""
        digest = hashlib.sha256(self.body)
        digest.update(repr(sorted((k, repr(v)) for k, v in self.headers.items())).encode())
        return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Where:
    """One ``--where`` condition: ``key=value`` (equal) or ``key~value`` (contains)."""

    key: str
    op: Literal["=", "~"]
    value: str

    def matches(self, letter: DeadLetter) -> bool:
        actual = _field(letter, self.key)
        if self.op == "=":
            return (actual or "") == self.value
        return actual is not None and self.value.casefold() in actual.casefold()

    def __str__(self) -> str:
        return f"{self.key}{self.op}{self.value}"


def parse_where(text: str) -> Where:
    """Parse ``exception=TYPE`` / ``error~TEXT``; a clear sentence for anything else."""
    for op in ("~", "="):
        key, sep, value = text.partition(op)
        if sep and key.strip() in _WHERE_KEYS and "=" not in key and "~" not in key:
            return Where(key.strip(), "=" if op == "=" else "~", value)
    msg = f"--where {text!r} is not understood; {_WHERE_HELP}."
    raise HareConfigError(msg)


def parse_wheres(texts: Iterable[str | Where]) -> tuple[Where, ...]:
    """Every condition parsed (``Where`` objects pass through)."""
    return tuple(t if isinstance(t, Where) else parse_where(t) for t in texts)


def matches_all(letter: DeadLetter, where: Sequence[Where]) -> bool:
    """True when ``letter`` meets every condition (no condition = every message)."""
    return all(condition.matches(letter) for condition in where)


def parse_rate(text: str | float | None) -> float | None:
    """``--rate``: ``20``, ``20/s`` or ``600/m`` messages; ``None`` = as fast as confirms go."""
    if text is None:
        return None
    if isinstance(text, int | float) and not isinstance(text, bool):
        number, per = float(text), 1.0
    else:
        raw = str(text).strip().lower()
        amount, _, unit = raw.partition("/")
        per = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0}.get(unit.strip(), 0.0)
        try:
            number = float(amount)
        except ValueError:
            number = 0.0
    if per == 0.0 or not number > 0:
        msg = f"--rate {text!r} is not a positive rate; use e.g. 20/s or 600/m."
        raise HareConfigError(msg)
    return number / per


def check_count(count: int | None, option: str = "--count") -> int | None:
    """``None`` = no limit; otherwise a non-negative integer."""
    if count is None:
        return None
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        msg = f"{option} must be a whole number >= 0, got {count!r}."
        raise HareConfigError(msg)
    return count


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


def _field(letter: DeadLetter, key: str) -> str | None:
    if key == "exception":
        return letter.exception
    if key == "error":
        return letter.error
    if key == "message_id":
        return letter.message_id
    return letter.fingerprint


def _text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def header_items(headers: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Headers as display text, sorted by name."""
    return [(k, _text_or_none(v) or "") for k, v in sorted(headers.items())]
