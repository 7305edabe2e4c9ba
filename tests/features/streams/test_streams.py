"""Stream subscribers, in memory (fed like any subscriber: no rstream, no offsets) and on
RabbitMQ over the stream protocol. Offsets, resuming and outages, which only RabbitMQ has, are in
``test_stream_offsets.py``."""

from __future__ import annotations

from typing import Any

from faststream.rabbit import TestRabbitBroker

from faststream_hare import HareBroker, signals
from faststream_hare.testing import dead_letters
from tests.support.transport import Transport
from tests.support.waiting import eventually


async def test_a_stream_subscriber_receives_what_is_published_to_its_exchange(
    transport: Transport,
) -> None:
    queue, exchange = transport.queue("events"), transport.queue("ex")
    broker = transport.broker()
    seen: list[dict[str, int]] = []

    @broker.subscriber(queue, exchange=exchange, stream=True, stream_offset="first")
    async def audit(event: dict[str, int]) -> None:
        seen.append(event)

    async with transport.running(broker):
        for n in range(3):
            await broker.publish({"n": n}, exchange=exchange, routing_key=queue)
        await eventually(lambda: len(seen) == 3)

    assert seen == [{"n": 0}, {"n": 1}, {"n": 2}]


async def test_a_stream_subscriber_receives_what_is_published_to_its_queue(
    transport: Transport,
) -> None:
    queue = transport.queue("events")
    broker = transport.broker()
    seen: list[Any] = []

    @broker.subscriber(queue, stream=True, stream_offset="first", stream_consumer_name="audit")
    async def audit(event: Any) -> None:
        seen.append(event)

    async with transport.running(broker):
        await broker.publish({"n": 1}, queue=queue)
        await broker.publish(b"raw", queue=queue)
        await eventually(lambda: len(seen) == 2)
        if transport.memory:
            audit.mock.assert_called_with(b"raw")  # type: ignore[attr-defined]

    assert seen == [{"n": 1}, b"raw"]


async def test_a_failing_stream_handler_is_signalled_and_dead_lettered(
    transport: Transport,
) -> None:
    queue = transport.queue("events")
    broker = transport.broker()
    handled: list[int] = []
    failures: list[dict[str, Any]] = []

    @broker.subscriber(queue, stream=True, stream_offset="first", stream_dead_letter=True)
    async def audit(event: dict[str, int]) -> None:
        if event["n"] in (1, 3):
            raise RuntimeError(f"bad event {event['n']}")
        handled.append(event["n"])

    def on_failed(_: Any, *, measurements: Any, metadata: dict[str, Any]) -> None:
        failures.append(metadata)

    with signals.stream_message_failed.connected_to(on_failed):
        async with transport.running(broker):
            for n in range(5):  # a failure does not raise out of the publish in memory
                await broker.publish({"n": n}, queue=queue, message_id="same-id")
            dead = await transport.dead(broker, queue, 2)
            await eventually(lambda: len(handled) == 3)

    assert handled == [0, 2, 4]
    assert [(f["queue"], f["exception"]) for f in failures] == [(queue, "RuntimeError")] * 2
    assert [d.json() for d in dead] == [{"n": 1}, {"n": 3}]
    assert dead[0].headers["hare-exception"] == "RuntimeError"
    assert dead[0].headers["hare-error"] == "bad event 1"
    assert (dead[0].message_id, dead[0].content_type) == ("same-id", "application/json")


async def test_a_failing_stream_handler_without_dead_letter_keeps_nothing_in_memory() -> None:
    broker = HareBroker()

    @broker.subscriber("events", stream=True)
    async def audit(event: dict[str, int]) -> None:
        raise ValueError("always")

    async with TestRabbitBroker(broker) as br:
        await br.publish({"n": 0}, queue="events")

    assert dead_letters(broker, "events") == []
