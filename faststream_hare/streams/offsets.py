"""Stream offsets: where a subscription starts, and which processed offset still needs storing.

Pure logic (no I/O) so the resume rules are tested without a broker:

* the first start uses ``stream_offset`` ("next", "first", "last", an int, a datetime);
* once a message is processed (or an offset was stored under ``stream_consumer_name``), every
  later subscription starts right after the last processed offset;
* a message at or below the last processed offset is never handed to the handler again.
"""

from __future__ import annotations

from datetime import datetime

from rstream import ConsumerOffsetSpecification, OffsetType

from faststream_hare.config.subscriber import StreamOffset, check_stream_offset

_NAMED = {"first": OffsetType.FIRST, "last": OffsetType.LAST, "next": OffsetType.NEXT}


def offset_specification(offset: StreamOffset) -> ConsumerOffsetSpecification:
    """rstream's specification for a ``stream_offset`` option value."""
    value = check_stream_offset(offset)
    if isinstance(value, str):
        return ConsumerOffsetSpecification(_NAMED[value], None)
    if isinstance(value, datetime):
        return ConsumerOffsetSpecification(OffsetType.TIMESTAMP, epoch_ms(value))
    return ConsumerOffsetSpecification(OffsetType.OFFSET, value)


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch (the stream protocol's timestamp unit)."""
    return int(moment.timestamp() * 1000)


def starting_specification(
    configured: StreamOffset, last_processed: int | None, first_subscribed_ms: int | None = None
) -> ConsumerOffsetSpecification:
    """Resume right after ``last_processed`` when known, else start at ``configured``.

    A re-subscription before anything was processed must not move a relative start
    ("next", "last") to the reconnect: it starts at the time of the first subscription, so
    messages published during the outage are not skipped.
    """
    if last_processed is not None:
        return ConsumerOffsetSpecification(OffsetType.OFFSET, last_processed + 1)
    if first_subscribed_ms is not None and configured in ("next", "last"):
        return ConsumerOffsetSpecification(OffsetType.TIMESTAMP, first_subscribed_ms)
    return offset_specification(configured)


class OffsetTracker:
    """The last processed offset of one stream subscriber, and the last one stored for it."""

    def __init__(self, last_processed: int | None = None) -> None:
        self.last_processed = last_processed
        self.last_stored = last_processed

    def is_new(self, offset: int) -> bool:
        """False for an offset already processed (a redelivery after a reconnect)."""
        return self.last_processed is None or offset > self.last_processed

    def processed(self, offset: int) -> None:
        """Record ``offset`` as handled (successfully or not: the consumer moves on)."""
        if self.is_new(offset):
            self.last_processed = offset

    def to_store(self) -> int | None:
        """The offset to store now, or ``None`` when the server already has it."""
        if self.last_processed is None or self.last_processed == self.last_stored:
            return None
        return self.last_processed

    def stored(self, offset: int) -> None:
        """Remember that the server holds ``offset``."""
        self.last_stored = offset
