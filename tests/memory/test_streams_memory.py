"""Under TestRabbitBroker a stream subscriber is fed like any other (no rstream, no offsets)."""

from __future__ import annotations

from typing import Any

from faststream.rabbit import TestRabbitBroker

from faststream_hare import HareBroker, signals
from faststream_hare.testing import dead_letters


async def test_stream_subscriber_receives_what_is_published_to_its_exchange() -> None:
    broker = HareBroker()
    seen: list[dict[str, int]] = []

    @broker.subscriber("events", exchange="events_ex", stream=True, stream_offset="first")
    async def audit(event: dict[str, int]) -> None:
        seen.append(event)

    async with TestRabbitBroker(broker) as br:
        for n in range(3):
            await br.publish({"n": n}, exchange="events_ex", routing_key="events")

    assert seen == [{"n": 0}, {"n": 1}, {"n": 2}]


async def test_stream_subscriber_receives_what_is_published_to_its_queue() -> None:
    broker = HareBroker()
    seen: list[Any] = []

    @broker.subscriber("events", stream=True, stream_consumer_name="audit")
    async def audit(event: Any) -> None:
        seen.append(event)

    async with TestRabbitBroker(broker) as br:
        await br.publish({"n": 1}, queue="events")
        await br.publish(b"raw", queue="events")
        audit.mock.assert_called_with(b"raw")  # type: ignore[attr-defined]

    assert seen == [{"n": 1}, b"raw"]


async def test_failing_stream_handler_is_signalled_and_dead_lettered_in_memory() -> None:
    broker = HareBroker()
    handled: list[int] = []
    failures: list[dict[str, Any]] = []

    @broker.subscriber("events", stream=True, stream_dead_letter=True)
    async def audit(event: dict[str, int]) -> None:
        if event["n"] == 1:
            raise ValueError("cannot audit 1")
        handled.append(event["n"])

    def on_failed(_: Any, *, measurements: Any, metadata: dict[str, Any]) -> None:
        failures.append(metadata)

    with signals.stream_message_failed.connected_to(on_failed):
        async with TestRabbitBroker(broker) as br:
            for n in range(3):
                await br.publish({"n": n}, queue="events")  # the failure does not raise here

    assert handled == [0, 2]
    assert [(f["queue"], f["exception"]) for f in failures] == [("events", "ValueError")]
    [dead] = dead_letters(broker, "events")
    assert dead.json() == {"n": 1}
    assert dead.headers["hare-exception"] == "ValueError"
    assert dead.headers["hare-error"] == "cannot audit 1"


async def test_failing_stream_handler_without_dead_letter_keeps_nothing() -> None:
    broker = HareBroker()

    @broker.subscriber("events", stream=True)
    async def audit(event: dict[str, int]) -> None:
        raise ValueError("always")

    async with TestRabbitBroker(broker) as br:
        await br.publish({"n": 0}, queue="events")

    assert dead_letters(broker, "events") == []
