"""The same loss paths in memory, signals exactly once, and no leaks between test sessions."""

from __future__ import annotations

from typing import Any

import pytest
from faststream.exceptions import AckMessage, NackMessage, RejectMessage
from faststream.middlewares import AckPolicy
from faststream.rabbit import TestRabbitBroker

from faststream_hare import HareBroker, HareConfigError, HareRouter, signals
from faststream_hare.testing import dead_letters


async def test_a_raising_parser_dead_letters_in_memory() -> None:
    broker = HareBroker()

    async def broken_parser(message: Any, original: Any) -> Any:
        raise ValueError("cannot parse")

    @broker.subscriber("mem.parser", retry_limit=2, parser=broken_parser)
    async def handle(body: str) -> None:
        raise AssertionError("never reached")

    async with TestRabbitBroker(broker) as br:
        await br.publish("x", queue="mem.parser", message_id="m-1")

    [dead] = dead_letters(broker, "mem.parser")
    assert dead.message_id == "m-1"
    assert dead.headers["hare-exception"] == "ValueError"
    assert dead.headers["hare-reason"] == "poison"


async def test_no_handler_dead_letters_in_memory() -> None:
    broker = HareBroker()
    subscriber = broker.subscriber("mem.filters", retry_limit=2)

    @subscriber(filter=lambda m: m.headers.get("kind") == "a")
    async def only_a(body: str) -> None:
        return None

    async with TestRabbitBroker(broker) as br:
        await br.publish("nobody", queue="mem.filters", headers={"kind": "b"})

    [dead] = dead_letters(broker, "mem.filters")
    assert dead.headers["hare-exception"] == "NoHandler"
    assert dead.headers["hare-reason"] == "no_handler"


@pytest.mark.parametrize(
    ("raised", "result"),
    [(AckMessage(), "ack"), (NackMessage(), "nack"), (RejectMessage(), "reject")],
)
async def test_stop_is_signalled_once_when_the_handler_settles_itself(
    raised: Exception, result: str
) -> None:
    broker = HareBroker()
    events: list[tuple[str, Any]] = []

    def on_start(sender: object, measurements: Any, metadata: Any) -> None:
        events.append(("start", None))

    def on_stop(sender: object, measurements: Any, metadata: Any) -> None:
        events.append(("stop", metadata["result"]))

    @broker.subscriber("mem.settle", retry_limit=2)
    async def handle(body: str) -> None:
        raise raised

    signals.consumer_message_start.connect(on_start)
    signals.consumer_message_stop.connect(on_stop)
    try:
        async with TestRabbitBroker(broker) as br:
            await br.publish("x", queue="mem.settle")
    finally:
        signals.consumer_message_start.disconnect(on_start)
        signals.consumer_message_stop.disconnect(on_stop)

    assert events == [("start", None), ("stop", result)]


async def test_stop_is_signalled_once_for_a_retried_failure() -> None:
    broker = HareBroker()
    results: list[str] = []

    def on_stop(sender: object, measurements: Any, metadata: Any) -> None:
        results.append(metadata["result"])

    @broker.subscriber("mem.fail", retry_limit=1)
    async def handle(body: str) -> None:
        raise ValueError("no")

    signals.consumer_message_stop.connect(on_stop)
    try:
        async with TestRabbitBroker(broker) as br:
            await br.publish("x", queue="mem.fail")
    finally:
        signals.consumer_message_stop.disconnect(on_stop)

    assert results == ["error", "error"]  # the delivery and its one retry


MODULE_BROKER = HareBroker()


@MODULE_BROKER.subscriber("mem.leak", retry_limit=0)
async def always_fails(body: str) -> None:
    raise ValueError("dead")


async def test_dead_letters_do_not_leak_between_test_sessions() -> None:
    async with TestRabbitBroker(MODULE_BROKER) as br:
        await br.publish("first", queue="mem.leak")
        assert len(dead_letters(MODULE_BROKER, "mem.leak")) == 1
    async with TestRabbitBroker(MODULE_BROKER) as br:
        assert dead_letters(MODULE_BROKER, "mem.leak") == []
        await br.publish("second", queue="mem.leak")
        assert [d.body for d in dead_letters(MODULE_BROKER, "mem.leak")] == [b"second"]


@pytest.mark.parametrize("policy", [AckPolicy.ACK_FIRST, AckPolicy.MANUAL])
def test_ack_first_or_manual_on_a_retrying_subscriber_is_refused(policy: AckPolicy) -> None:
    broker = HareBroker()
    with pytest.raises(HareConfigError, match="ack_policy"):
        broker.subscriber("mem.policy", retry_limit=2, ack_policy=policy)
    inherited = HareBroker(ack_policy=policy)
    with pytest.raises(HareConfigError, match="ack_policy"):
        inherited.subscriber("mem.policy", retry_limit=2)
    router = HareRouter(ack_policy=policy)
    with pytest.raises(HareConfigError, match="ack_policy"):
        router.subscriber("mem.policy", retry_limit=2)


def test_plain_subscribers_and_streams_keep_any_ack_policy() -> None:
    broker = HareBroker(ack_policy=AckPolicy.ACK_FIRST)
    broker.subscriber("mem.plain")
    broker.subscriber("mem.stream", stream=True)
