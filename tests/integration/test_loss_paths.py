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
from faststream.rabbit.annotations import RabbitMessage

from faststream_hare import HareBroker, signals
from faststream_hare.retry import handoff as handoff_module
from tests.support.amqp import depths, drain_named, wait_depth
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit


async def _dead(queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    return await drain_named(f"{queue}.dead")


async def test_a_raising_custom_parser_dead_letters_the_message(
    prefix: str, broker_url: str
) -> None:
    queue = f"{prefix}.parser"
    broker = HareBroker(broker_url)

    async def broken_parser(message: Any, original: Any) -> Any:
        raise ValueError("cannot parse this")

    @broker.subscriber(queue, retry_limit=3, delay_in_ms=100, parser=broken_parser)
    async def handle(body: str) -> None:
        raise AssertionError("never reached")

    async with broker:
        await broker.start()
        for n in range(3):
            await broker.publish(f"m{n}", queue=queue, message_id=f"p-{n}")
        await wait_depth(f"{queue}.dead", 3)
        assert (await depths(queue, f"{queue}.delay"))[queue] == 0

    dead = await _dead(queue)
    assert sorted(m.message_id or "" for m in dead) == ["p-0", "p-1", "p-2"]
    for message in dead:
        assert message.headers["hare-exception"] == "ValueError"
        assert message.headers["hare-error"] == "cannot parse this"
        assert message.headers["hare-reason"] == "poison"
        assert message.body.decode().startswith("m")


async def test_a_raising_custom_decoder_dead_letters_the_message(
    prefix: str, broker_url: str
) -> None:
    queue = f"{prefix}.decoder"
    broker = HareBroker(broker_url)

    async def broken_decoder(message: Any, original: Any) -> Any:
        raise KeyError("no such field")

    @broker.subscriber(queue, retry_limit=3, delay_in_ms=100, decoder=broken_decoder)
    async def handle(body: dict) -> None:
        raise AssertionError("never reached")

    async with broker:
        await broker.start()
        await broker.publish({"a": 1}, queue=queue, message_id="d-1")
        await wait_depth(f"{queue}.dead", 1)

    [dead] = await _dead(queue)
    assert dead.message_id == "d-1"
    assert dead.headers["hare-reason"] == "poison"


async def test_a_message_no_filter_accepts_is_dead_lettered_as_no_handler(
    prefix: str, broker_url: str
) -> None:
    queue = f"{prefix}.filters"
    broker = HareBroker(broker_url)
    handled: list[str] = []
    subscriber = broker.subscriber(queue, retry_limit=3, delay_in_ms=100)

    @subscriber(filter=lambda m: m.headers.get("kind") == "a")
    async def only_a(body: str) -> None:
        handled.append(body)

    async with broker:
        await broker.start()
        await broker.publish("for a", queue=queue, headers={"kind": "a"}, message_id="f-a")
        await broker.publish("for nobody", queue=queue, headers={"kind": "b"}, message_id="f-b")
        await wait_depth(f"{queue}.dead", 1)
        await eventually(lambda: handled == ["for a"])

    [dead] = await _dead(queue)
    assert dead.message_id == "f-b"
    assert dead.headers["hare-exception"] == "NoHandler"
    assert dead.headers["hare-reason"] == "no_handler"


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

    monkeypatch.setattr(handoff_module, "OPERATION_TIMEOUT_S", 0.2)
    async with broker:
        await broker.start()
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

    monkeypatch.setattr(handoff_module, "OPERATION_TIMEOUT_S", 0.2)
    async with broker:
        await broker.start()
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
