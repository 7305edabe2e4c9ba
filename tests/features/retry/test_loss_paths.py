"""Every message accounted for on the paths beyond the handler.

A raising custom parser or decoder, a message no ``filter=`` accepts, and a bug inside hare's own
resend path: each ends with the message in ``Q.dead`` (poison) or back in ``Q`` — never lost.
Counts are exact, by message id.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aio_pika
import pytest
from faststream.exceptions import AckMessage, NackMessage, RejectMessage
from faststream.middlewares import AckPolicy
from faststream.rabbit import TestRabbitBroker
from faststream.rabbit.annotations import RabbitMessage

from faststream_hare import HareBroker, HareConfigError, HareRouter, Idempotency, signals
from faststream_hare._internal import channels as channels_module
from faststream_hare.dedup.store import Claim
from faststream_hare.idempotency.memory import MemoryIdempotencyStore
from faststream_hare.testing import dead_letters
from tests.support.amqp import depths
from tests.support.transport import Transport
from tests.support.waiting import eventually


async def test_a_raising_custom_parser_dead_letters_the_message(transport: Transport) -> None:
    queue = transport.queue("parser")
    broker = transport.broker()

    async def broken_parser(message: Any, original: Any) -> Any:
        raise ValueError("cannot parse this")

    @broker.subscriber(queue, retry_limit=3, delay_in_ms=100, parser=broken_parser)
    async def handle(body: str) -> None:
        raise AssertionError("never reached")

    async with transport.running(broker):
        for n in range(3):
            await broker.publish(f"m{n}", queue=queue, message_id=f"p-{n}")
        dead = await transport.dead(broker, queue, 3)
        await transport.assert_empty(queue, f"{queue}.delay")

    assert sorted(m.message_id or "" for m in dead) == ["p-0", "p-1", "p-2"]
    for message in dead:
        assert message.headers["hare-exception"] == "ValueError"
        assert message.headers["hare-error"] == "cannot parse this"
        assert message.headers["hare-reason"] == "poison"
        assert message.body.decode().startswith("m")


async def test_a_raising_custom_decoder_dead_letters_the_message(transport: Transport) -> None:
    queue = transport.queue("decoder")
    broker = transport.broker()

    async def broken_decoder(message: Any, original: Any) -> Any:
        raise KeyError("no such field")

    @broker.subscriber(queue, retry_limit=3, delay_in_ms=100, decoder=broken_decoder)
    async def handle(body: dict[str, int]) -> None:
        raise AssertionError("never reached")

    async with transport.running(broker):
        await broker.publish({"a": 1}, queue=queue, message_id="d-1")
        [dead] = await transport.dead(broker, queue, 1)

    assert dead.message_id == "d-1"
    assert dead.headers["hare-reason"] == "poison"


async def test_a_message_no_filter_accepts_is_dead_lettered_as_no_handler(
    transport: Transport,
) -> None:
    queue = transport.queue("filters")
    broker = transport.broker()
    handled: list[str] = []
    subscriber = broker.subscriber(queue, retry_limit=3, delay_in_ms=100)

    @subscriber(filter=lambda m: m.headers.get("kind") == "a")
    async def only_a(body: str) -> None:
        handled.append(body)

    async with transport.running(broker):
        await broker.publish("for a", queue=queue, headers={"kind": "a"}, message_id="f-a")
        await broker.publish("for nobody", queue=queue, headers={"kind": "b"}, message_id="f-b")
        [dead] = await transport.dead(broker, queue, 1)
        await eventually(lambda: handled == ["for a"])

    assert dead.message_id == "f-b"
    assert dead.headers["hare-exception"] == "NoHandler"
    assert dead.headers["hare-reason"] == "no_handler"


async def test_stop_is_signalled_once_per_run_of_a_retried_failure(transport: Transport) -> None:
    queue = transport.queue("fail")
    broker = transport.broker()
    results: list[str] = []

    def on_stop(sender: object, measurements: Any, metadata: Any) -> None:
        results.append(metadata["result"])

    @broker.subscriber(queue, retry_limit=1, delay_in_ms=100)
    async def handle(body: str) -> None:
        raise ValueError("no")

    signals.consumer_message_stop.connect(on_stop, sender=broker)
    try:
        async with transport.running(broker):
            await broker.publish("x", queue=queue)
            await transport.wait_dead(broker, queue, 1)
            await eventually(lambda: len(results) == 2)
            await transport.quiet(0.3)
    finally:
        signals.consumer_message_stop.disconnect(on_stop)

    assert results == ["error", "error"]  # the delivery and its one retry


# -- one transport only ------------------------------------------------------------------------


@pytest.mark.rabbit
async def test_a_bug_in_hares_resend_path_sends_the_original_back(
    prefix: str, broker_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = f"{prefix}.bug"
    broker = HareBroker(broker_url)
    deliveries: list[bool] = []

    @broker.subscriber(queue, retry_limit=3, delay_in_ms=100)
    async def handle(body: str, message: RabbitMessage) -> None:
        deliveries.append(message.raw_message.redelivered)
        if len(deliveries) == 1:
            raise ValueError("first try fails")

    async with broker:
        await broker.start()
        transport = broker.hare_runtime.transport
        real_send = transport.send
        calls = 0

        async def send_with_a_bug(target: str, copy: Any) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("a bug in hare")
            await real_send(target, copy)

        monkeypatch.setattr(transport, "send", send_with_a_bug)
        await broker.publish("keep me", queue=queue, message_id="b-1")
        await eventually(lambda: len(deliveries) == 2)
        await asyncio.sleep(0.3)  # nothing else arrives
        assert await depths(queue, f"{queue}.delay", f"{queue}.dead") == {
            queue: 0,
            f"{queue}.delay": 0,
            f"{queue}.dead": 0,
        }

    assert deliveries == [False, True]  # back in Q, delivered again, handled


@pytest.mark.rabbit
async def test_copies_that_cannot_be_confirmed_back_off(prefix: str, broker_url: str) -> None:
    queue = f"{prefix}.backoff"
    broker = HareBroker(broker_url)
    runs = 0
    pauses: list[int] = []

    def on_requeued(sender: object, measurements: dict[str, Any], metadata: Any) -> None:
        if metadata["queue"] == queue:
            pauses.append(measurements["pause_ms"])

    @broker.subscriber(queue, retry_limit=3, delay_in_ms=100)
    async def handle(body: str) -> None:
        nonlocal runs
        runs += 1
        raise ValueError("always")

    signals.retry_publisher_message_requeued.connect(on_requeued)
    try:
        async with broker:
            await broker.start()
            connection = await broker.connect()
            channel = await connection.channel()
            await channel.queue_delete(f"{queue}.delay")  # copies now come back unroutable
            await channel.close()
            await broker.publish("stuck", queue=queue, message_id="s-1")
            await eventually(lambda: len(pauses) >= 4, timeout=20)
    finally:
        signals.retry_publisher_message_requeued.disconnect(on_requeued)

    assert pauses[:4] == [500, 1_000, 2_000, 4_000]
    assert runs <= 6  # 0.5 + 1 + 2 + 4 s of pauses: a handful of runs, not hundreds


@pytest.mark.rabbit
async def test_a_poison_message_whose_requeue_stalls_is_never_acked(
    prefix: str, broker_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No copy confirmed and the requeue's nack stuck on a stalled link past its bound: the
    message stays unacked (hare holds it) and is back in ``Q`` once its channel closes."""
    queue = f"{prefix}.poison-stall"
    broker = HareBroker(broker_url)
    nacks: list[int] = []

    async def broken_parser(message: Any, original: Any) -> Any:
        raise ValueError("cannot parse this")

    async def stalled_nack(self: Any, multiple: bool = False, requeue: bool = True) -> None:
        nacks.append(self.delivery_tag)
        await asyncio.sleep(3600)

    @broker.subscriber(queue, retry_limit=3, delay_in_ms=100, parser=broken_parser)
    async def handle(body: str) -> None:
        raise AssertionError("never reached")

    async with broker:
        await broker.start()
        monkeypatch.setattr(channels_module, "OPERATION_TIMEOUT_S", 0.2)  # bounded() reads it
        connection = await broker.connect()
        channel = await connection.channel()
        await channel.queue_delete(f"{queue}.dead")  # the copy comes back unroutable
        await channel.close()
        monkeypatch.setattr(aio_pika.IncomingMessage, "nack", stalled_nack)
        await broker.publish("poison", queue=queue, message_id="stall-1")
        await eventually(lambda: len(nacks) == 1, timeout=10)
        await asyncio.sleep(0.5)  # the nack's bound expired: FastStream must not ack it
        monkeypatch.undo()
    counts = await depths(queue)
    print(f"[around] poison requeue stalled: back in Q={counts[queue]} lost={1 - counts[queue]}")
    assert counts == {queue: 1}


@pytest.mark.rabbit
async def test_an_ack_stuck_on_a_dead_link_is_bounded(
    prefix: str, broker_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy is confirmed, then the original's ack never completes (a connection that died
    with aiormq's write queue full): the handoff ends after its bound instead of waiting
    forever, and the unacked original is left to the broker's redelivery."""
    queue = f"{prefix}.ack-stall"
    broker = HareBroker(broker_url)
    acks: list[int] = []

    async def stalled_ack(self: Any, multiple: bool = False) -> None:
        acks.append(self.delivery_tag)
        await asyncio.sleep(3600)

    subscriber = broker.subscriber(queue, retry_limit=3, delay_in_ms=60_000)

    @subscriber
    async def handle(body: str) -> None:
        raise ValueError("fails")

    async with broker:
        await broker.start()
        monkeypatch.setattr(channels_module, "OPERATION_TIMEOUT_S", 0.2)  # bounded() reads it
        monkeypatch.setattr(aio_pika.IncomingMessage, "ack", stalled_ack)
        await broker.publish("stuck ack", queue=queue, message_id="ack-1")
        await eventually(lambda: len(acks) == 1, timeout=10)
        await asyncio.sleep(0.6)
        still_pending = len(subscriber.handoffs)  # type: ignore[attr-defined]
        monkeypatch.undo()
    counts = await depths(queue, f"{queue}.delay")
    print(f"[around] ack stalled: handoffs still waiting={still_pending} kept={counts}")
    assert still_pending == 0
    assert counts == {queue: 1, f"{queue}.delay": 1}  # a duplicate later, never a loss


class CommitFails(MemoryIdempotencyStore):
    """An inbox whose commit (the done mark, which holds the handler's writes) fails."""

    done_commits_effects = True

    async def mark_done(self, lease: Claim, period_ms: int) -> None:
        raise RuntimeError("commit failed")


@pytest.mark.rabbit
async def test_a_nack_stuck_after_a_failed_inbox_commit_is_bounded_and_never_acked(
    prefix: str, broker_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler's transaction did not commit and the nack that gives the message back never
    completes: the delivery ends after the bound, FastStream does not ack it after us, and
    the unacked message returns to ``Q`` when its channel closes."""
    queue = f"{prefix}.inbox-nack-stall"
    broker = HareBroker(broker_url)
    runs: list[str] = []
    nacks: list[int] = []
    acks: list[int] = []

    async def stalled_nack(self: Any, multiple: bool = False, requeue: bool = True) -> None:
        nacks.append(self.delivery_tag)
        await asyncio.sleep(3600)

    async def recorded_ack(self: Any, multiple: bool = False) -> None:
        acks.append(self.delivery_tag)

    @broker.subscriber(queue, retry_limit=3, idempotent=Idempotency(60_000, store=CommitFails()))
    async def handle(body: str) -> None:
        runs.append(body)

    async with broker:
        await broker.start()
        monkeypatch.setattr(channels_module, "OPERATION_TIMEOUT_S", 0.2)  # bounded() reads it
        monkeypatch.setattr(aio_pika.IncomingMessage, "nack", stalled_nack)
        monkeypatch.setattr(aio_pika.IncomingMessage, "ack", recorded_ack)
        await broker.publish("once", queue=queue, message_id="inbox-1")
        await eventually(lambda: len(nacks) == 1, timeout=10)
        await asyncio.sleep(0.6)  # past the bound: FastStream would ack now if it could
        monkeypatch.undo()
    counts = await depths(queue)
    print(f"[around] inbox nack stalled: runs={len(runs)} acks={len(acks)} kept={counts}")
    assert runs == ["once"]
    assert acks == []  # never acked: its writes did not commit
    assert counts == {queue: 1}  # back in Q with the channel: lost = 0


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
