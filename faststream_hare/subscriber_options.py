"""``SubscriberOptions``: the validated hare options of one subscriber.

``None`` means "use the broker's settings", resolved when the broker starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypedDict

from faststream_hare.errors import HareConfigError

if TYPE_CHECKING:
    from faststream_hare.options import AutoScaling, Idempotency

QueueTypeName: TypeAlias = Literal["classic", "quorum"]
StreamOffset: TypeAlias = Literal["next", "first", "last"] | int | datetime
NAMED_OFFSETS = ("next", "first", "last")


@dataclass(frozen=True, kw_only=True)
class SubscriberOptions:
    """The hare options of one subscriber; ``None`` means "use the broker's settings"."""

    queue: str
    exchange: str | None = None
    routing_key: str | None = None
    prefetch_count: int = 1
    retry_limit: int | None = None
    delay_in_ms: int | None = None
    delay_cascade_in_ms: tuple[int, ...] = ()
    queue_type: QueueTypeName = "classic"
    stream: bool = False
    stream_offset: StreamOffset = "next"
    stream_consumer_name: str | None = None
    stream_dead_letter: bool = False
    consumer_count: int = 1
    auto_scaling: AutoScaling | None = None
    cluster_unique: bool = False
    #: Exceptions worth a retry (anything else dead-letters at once as "unrecoverable").
    retry_on: tuple[type[Exception], ...] = (Exception,)
    #: Exceptions that dead-letter at once, even when they are also in ``retry_on``.
    dead_on: tuple[type[Exception], ...] = ()
    #: Re-runs of a failing handler in process, before the delayed path.
    immediate_retries: int = 0
    idempotent: Idempotency | None = None

    @property
    def uses_pool(self) -> bool:
        """True when the subscriber runs named workers (``consumer_count``/``auto_scaling``)."""
        return self.consumer_count != 1 or self.auto_scaling is not None or self.cluster_unique


class HareSubscriberKeywords(TypedDict, total=False):
    """The hare keywords of ``subscriber()`` (HareBroker, HareRouter and the FastAPI router).

    Giving any of them (not ``None``) makes the subscriber a hare subscriber; one list, so a new
    option is added in one place.
    """

    routing_key: str | None
    prefetch_count: int | None
    retry_limit: int | None
    delay_in_ms: int | None
    delay_cascade_in_ms: Sequence[int] | None
    queue_type: str | None
    stream: bool | None
    stream_offset: Any
    stream_consumer_name: str | None
    stream_dead_letter: bool | None
    consumer_count: int | None
    auto_scaling: AutoScaling | None
    cluster_unique: bool | None
    retry_on: type[Exception] | Sequence[type[Exception]] | None
    dead_on: type[Exception] | Sequence[type[Exception]] | None
    immediate_retries: int | None
    idempotent: Idempotency | None


def given_hare_keywords(keywords: HareSubscriberKeywords) -> dict[str, Any]:
    """The hare keywords that were given a value (``None`` counts as not given)."""
    unknown = sorted(set(keywords) - set(HareSubscriberKeywords.__annotations__))
    if unknown:
        known = ", ".join(sorted(HareSubscriberKeywords.__annotations__))
        msg = f"subscriber() got an unknown option {unknown[0]!r}; the hare options are: {known}."
        raise HareConfigError(msg)
    return {name: value for name, value in keywords.items() if value is not None}
