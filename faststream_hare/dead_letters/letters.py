"""What a dead letter looks like and which ones a ``--where`` filter selects; no I/O.

Pure, so the rules an operator relies on (which messages a replay touches) are tested without
a broker.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from faststream_hare._internal.compat import UTC
from faststream_hare.contract.headers import (
    DEAD_LETTERED_AT_HEADER,
    ERROR_HEADER,
    EXCEPTION_HEADER,
    read_retry_count,
    retries_performed,
)
from faststream_hare.errors import HareConfigError
from faststream_hare.topology.delivery_limit import DELIVERY_COUNT_HEADER

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
        return text_or_none(self.headers.get(EXCEPTION_HEADER))

    @property
    def error(self) -> str | None:
        """The ``hare-error`` header (the failure's message), if any."""
        return text_or_none(self.headers.get(ERROR_HEADER))

    @property
    def retry_count(self) -> int:
        """``retry_count`` as hare reads it (missing or non-integer = 0)."""
        return read_retry_count(self.headers)

    @property
    def retries(self) -> int:
        """The retries it went through before it was dead-lettered (what hare shows)."""
        return retries_performed(self.headers)

    @property
    def message_id(self) -> str | None:
        return text_or_none(self.properties.get("message_id"))

    @property
    def timestamp(self) -> datetime | None:
        value = self.properties.get("timestamp")
        return value if isinstance(value, datetime) else None

    @property
    def dead_lettered_at(self) -> datetime | None:
        """When the message was dead-lettered, in UTC: hare's ``hare-dead-lettered-at``
        header, else the newest ``x-death`` entry's time (RabbitMQ's own dead-lettering)."""
        stamp = parse_utc(text_or_none(self.headers.get(DEAD_LETTERED_AT_HEADER)))
        if stamp is not None:
            return stamp
        deaths = self.headers.get("x-death")
        if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
            moment = deaths[0].get("time")
            if isinstance(moment, datetime):
                return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return None

    @property
    def fingerprint(self) -> str:
        """A short id of body and headers: picks out one message even without a message id.

        Not of ``x-delivery-count``: a quorum queue raises it on each return, so with it every
        read (a page view) would change the id a page links to and a confirmation page sends.
        """
        digest = hashlib.sha256(self.body)
        headers = (kv for kv in self.headers.items() if kv[0] != DELIVERY_COUNT_HEADER)
        digest.update(repr(sorted((k, repr(v)) for k, v in headers)).encode())
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


def _field(letter: DeadLetter, key: str) -> str | None:
    if key == "exception":
        return letter.exception
    if key == "error":
        return letter.error
    if key == "message_id":
        return letter.message_id
    return letter.fingerprint


def parse_utc(text: str | None) -> datetime | None:
    """An ISO 8601 time (``Z`` or an offset; none means UTC) as an aware datetime, or None."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def text_or_none(value: Any) -> str | None:
    """A header value as text (bytes decoded as UTF-8); ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)
