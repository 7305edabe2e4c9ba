"""Bad options fail at decoration time with one sentence naming the option and the fix."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from faststream_hare import AutoScaling, HareBroker, HareConfigError, Unique


async def handler(body: dict) -> None:  # pragma: no cover - never called
    return None


@pytest.mark.parametrize(
    ("options", "names"),
    [
        ({"retry_limit": -1}, "retry_limit"),
        ({"retry_limit": "3"}, "retry_limit"),
        ({"delay_in_ms": -5}, "delay_in_ms"),
        ({"delay_cascade_in_ms": ["5s"]}, "delay_cascade_in_ms"),
        ({"delay_cascade_in_ms": [1000, 2.5]}, "delay_cascade_in_ms"),
        ({"delay_cascade_in_ms": "1000"}, "delay_cascade_in_ms"),
        ({"prefetch_count": 0}, "prefetch_count"),
        ({"queue_type": "lazy"}, "queue_type"),
        ({"queue_type": "stream"}, "stream=True"),
        ({"stream": True, "stream_offset": "middle"}, "stream_offset"),
        ({"stream": True, "stream_offset": -1}, "stream_offset"),
        ({"stream": True, "stream_offset": datetime(2024, 1, 1)}, "timezone-aware"),
        ({"stream_offset": "first"}, "stream=True"),
        ({"stream": True, "retry_limit": 3}, "retry_limit"),
        ({"stream": True, "consumer_count": 2}, "consumer_count"),
        ({"consumer_count": 0}, "consumer_count"),
        ({"auto_scaling": {"min_consumers": 1}}, "AutoScaling"),
        ({"routing_key": ""}, "routing_key"),
    ],
)
def test_bad_subscriber_options_fail_at_decoration(options: dict, names: str) -> None:
    broker = HareBroker()
    with pytest.raises(HareConfigError) as caught:
        broker.subscriber("orders", **options)(handler)
    message = str(caught.value)
    assert names in message
    assert message.count(". ") == 0 or message.endswith(".")  # one sentence
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: AutoScaling(min_consumers=5, max_consumers=2), "min_consumers"),
        (lambda: AutoScaling(messages_per_consumer=0), "messages_per_consumer"),
        (lambda: AutoScaling(check_interval_ms=0), "check_interval_ms"),
        (lambda: Unique(period_ms=0), "period_ms"),
        (lambda: Unique(keys="order_id"), "keys"),
    ],
)
def test_bad_option_objects_fail_when_built(make: object, name: str) -> None:
    with pytest.raises(HareConfigError, match=name):
        make()  # type: ignore[operator]


def test_prefetch_and_channel_conflict() -> None:
    from faststream.rabbit.schemas import Channel

    with pytest.raises(HareConfigError, match="prefetch_count and channel"):
        HareBroker().subscriber("q", prefetch_count=3, channel=Channel(prefetch_count=2))


def test_good_options_are_kept() -> None:
    broker = HareBroker()
    sub = broker.subscriber(
        "orders",
        exchange="orders_ex",
        routing_key="order.created",
        prefetch_count=4,
        retry_limit=0,
        delay_in_ms=2_000,
        delay_cascade_in_ms=[1_000, 5_000],
        queue_type="quorum",
    )
    assert sub.hare.retry_limit == 0  # type: ignore[attr-defined]
    assert sub.hare.delay_cascade_in_ms == (1_000, 5_000)  # type: ignore[attr-defined]
    assert sub.hare.queue_type == "quorum"  # type: ignore[attr-defined]
    stream = broker.subscriber(
        "events", stream=True, stream_offset=datetime(2024, 1, 1, tzinfo=timezone.utc)
    )
    assert stream.hare.stream  # type: ignore[attr-defined]


def test_plain_subscriber_has_no_hare_options() -> None:
    from faststream_hare import HareSubscriber

    broker = HareBroker()
    assert not isinstance(broker.subscriber("plain"), HareSubscriber)
    assert isinstance(broker.subscriber("opted_in", hare=True), HareSubscriber)
