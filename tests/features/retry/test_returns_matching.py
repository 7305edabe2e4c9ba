"""A returned copy is matched to the publish it belongs to, whatever the message ids
(docs/retries.md, Nothing is lost).

Copies keep the original's ``message_id`` and share one confirm channel. Two failing hare
subscribers of one app consume the same published message (a topic fan-out), so their copies
carry the same id and are in flight together; one of them goes to a delay queue that is
missing. The copy RabbitMQ returned must be reported returned (its original back in ``Q``), and
the copy it routed confirmed: never the other way round, which would ack an original whose copy
went nowhere. Counts are exact, by message id.
"""

from __future__ import annotations

import asyncio

import aio_pika
import pytest

from faststream_hare import HareBroker
from faststream_hare._internal import aiormq_frames
from faststream_hare.errors import ReturnedError
from tests.support.amqp import AMQP_URL, drain
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit

N = 60


async def test_a_returned_copy_is_never_taken_for_its_twins_confirm(
    prefix: str, broker_url: str
) -> None:
    exchange = f"{prefix}.fan"
    broken, working = f"{prefix}.broken", f"{prefix}.working"
    broker = HareBroker(broker_url)
    runs = {broken: 0, working: 0}

    @broker.subscriber(broken, exchange=exchange, routing_key="fan", delay_in_ms=60_000)
    async def fails_into_nowhere(body: str) -> None:
        runs[broken] += 1
        raise ValueError("fails")

    @broker.subscriber(working, exchange=exchange, routing_key="fan", delay_in_ms=60_000)
    async def fails_into_its_delay_queue(body: str) -> None:
        runs[working] += 1
        raise ValueError("fails")

    ids = [f"twin-{n}" for n in range(N)]
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        async with broker:
            await broker.start()
            await channel.queue_delete(f"{broken}.delay")  # its copies come back unroutable
            fan = await channel.get_exchange(exchange)
            for message_id in ids:
                await fan.publish(
                    aio_pika.Message(message_id.encode(), message_id=message_id),
                    routing_key="fan",
                )
            await eventually(lambda: runs[working] >= N)  # the broken one backs off
            await asyncio.sleep(1.0)  # every copy confirmed or returned
        # stopped: whatever hare had not settled went back with its channel
        in_broken = await drain(await channel.declare_queue(broken, passive=True))
        in_working = await drain(await channel.declare_queue(working, passive=True))
        delayed = await drain(await channel.declare_queue(f"{working}.delay", passive=True))
    finally:
        await connection.close()
    broken_ids = {m.message_id for m in in_broken}
    working_ids = {m.message_id for m in in_working} | {m.message_id for m in delayed}
    lost_broken = sorted(set(ids) - broken_ids)
    lost_working = sorted(set(ids) - working_ids)
    print(
        f"[around] twin copies: broken back in Q={len(broken_ids)} lost={len(lost_broken)}; "
        f"working kept={len(working_ids)} lost={len(lost_working)}"
    )
    assert lost_broken == []  # no copy of these was ever confirmed: none may be acked
    assert lost_working == []


@pytest.mark.parametrize("one_write", [True, False], ids=["one-write", "basic-publish"])
@pytest.mark.parametrize("missing_first", [True, False])
async def test_a_return_fails_only_its_own_publish_whatever_the_ids(
    prefix: str,
    broker_url: str,
    missing_first: bool,
    one_write: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two copies with one message id on the copies' confirm channel, in one turn: the one
    to a queue that does not exist is returned, the other confirmed — in either order, and
    also through aiormq's own ``basic_publish`` (the path for an aiormq hare cannot write to)."""
    if not one_write:
        monkeypatch.setattr(aiormq_frames, "frames_supported", lambda channel: False)
    present, missing = f"{prefix}.present", f"{prefix}.missing"
    broker = HareBroker(broker_url)
    wrong = 0
    async with broker:
        await broker.start()
        connection = await broker.connect()
        channel = await connection.channel()
        await channel.declare_queue(present)
        await channel.close()
        copies = broker.hare_runtime.copies
        for round_ in range(20):
            message_id = f"same-{round_}"
            targets = [missing, present] if missing_first else [present, missing]
            results = await asyncio.gather(
                *(
                    copies.publish(
                        aio_pika.Message(b"copy", message_id=message_id),
                        exchange="",
                        routing_key=target,
                    )
                    for target in targets
                ),
                return_exceptions=True,
            )
            outcome = dict(zip(targets, results, strict=True))
            if not isinstance(outcome[missing], ReturnedError) or outcome[present] is not None:
                wrong += 1
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        stored = await drain(await channel.declare_queue(present, passive=True))
    finally:
        await connection.close()
    print(f"[around] same-id copies: wrong outcomes={wrong}/20, stored={len(stored)}")
    assert wrong == 0
    assert len(stored) == 20
