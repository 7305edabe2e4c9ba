"""``SubscriberOptions``: the validated hare options of one subscriber.

``None`` means "use the broker's settings", resolved when the broker starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, TypeAlias

if TYPE_CHECKING:
    from faststream_hare.options import AutoScaling

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

    @property
    def uses_pool(self) -> bool:
        """True when the subscriber runs named workers (``consumer_count``/``auto_scaling``)."""
        return self.consumer_count != 1 or self.auto_scaling is not None or self.cluster_unique
