"""Where a stream subscription starts and what the resume rules are (no broker)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from rstream import OffsetType

from faststream_hare import HareBroker, HareConfigError
from faststream_hare.streams.offsets import (
    OffsetTracker,
    epoch_ms,
    offset_specification,
    starting_specification,
)


@pytest.mark.parametrize(
    ("offset", "kind", "value"),
    [
        ("first", OffsetType.FIRST, None),
        ("last", OffsetType.LAST, None),
        ("next", OffsetType.NEXT, None),
        (0, OffsetType.OFFSET, 0),
        (42, OffsetType.OFFSET, 42),
        (datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc), OffsetType.TIMESTAMP, 1_714_564_800_000),
    ],
)
def test_offset_option_maps_to_rstream_specification(
    offset: object, kind: OffsetType, value: int | None
) -> None:
    spec = offset_specification(offset)  # type: ignore[arg-type]
    assert (spec.offset_type, spec.offset) == (kind, value)


def test_datetime_in_another_zone_is_the_same_instant() -> None:
    paris = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert epoch_ms(paris) == epoch_ms(datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc))


@pytest.mark.parametrize("bad", ["earliest", "1D", -1, True, 1.5, None, object()])
def test_bad_offsets_are_rejected(bad: object) -> None:
    with pytest.raises(HareConfigError, match="stream_offset"):
        offset_specification(bad)  # type: ignore[arg-type]


def test_naive_datetime_is_rejected_at_decoration_time() -> None:
    broker = HareBroker()
    with pytest.raises(HareConfigError, match="timezone-aware"):
        broker.subscriber("events", stream=True, stream_offset=datetime(2024, 5, 1))


def test_unknown_offset_string_is_rejected_at_decoration_time() -> None:
    broker = HareBroker()
    with pytest.raises(HareConfigError, match="stream_offset"):
        broker.subscriber("events", stream=True, stream_offset="beginning")


def test_start_uses_the_option_until_something_was_processed() -> None:
    spec = starting_specification("last", None)
    assert (spec.offset_type, spec.offset) == (OffsetType.LAST, None)
    spec = starting_specification("last", 9)
    assert (spec.offset_type, spec.offset) == (OffsetType.OFFSET, 10)
    spec = starting_specification("first", 0)
    assert (spec.offset_type, spec.offset) == (OffsetType.OFFSET, 1)


def test_tracker_never_repeats_and_stores_only_changes() -> None:
    tracker = OffsetTracker()
    assert tracker.to_store() is None
    assert tracker.is_new(0)
    tracker.processed(0)
    tracker.processed(1)
    assert not tracker.is_new(1)
    assert not tracker.is_new(0)
    assert tracker.is_new(2)
    assert tracker.to_store() == 1
    tracker.stored(1)
    assert tracker.to_store() is None
    tracker.processed(1)  # a redelivery does not move the position back
    tracker.processed(0)
    assert tracker.last_processed == 1
    assert tracker.to_store() is None


def test_tracker_resumed_from_a_stored_offset() -> None:
    tracker = OffsetTracker(14)
    assert not tracker.is_new(14)
    assert tracker.is_new(15)
    assert tracker.to_store() is None
    tracker.processed(16)
    assert tracker.to_store() == 16


def test_reconnect_before_anything_processed_keeps_a_relative_start() -> None:
    from rstream import OffsetType

    from faststream_hare.streams.offsets import starting_specification

    spec = starting_specification("next", None, first_subscribed_ms=1_700_000_000_000)
    assert (spec.offset_type, spec.offset) == (OffsetType.TIMESTAMP, 1_700_000_000_000)
    spec = starting_specification("first", None, first_subscribed_ms=1_700_000_000_000)
    assert spec.offset_type == OffsetType.FIRST
    spec = starting_specification("next", 41, first_subscribed_ms=1_700_000_000_000)
    assert (spec.offset_type, spec.offset) == (OffsetType.OFFSET, 42)
