"""A replay raises one error, ``ReplayError``, and loses nothing: a missing queue, a link cut
half-way (through ``FaultProxy``), on ``broker.republish_dead_messages`` and on
``ops.dead_letters.replay_dead`` alike. Exact message ids: each dead message ends in ``Q.dead``
or in ``Q`` (at most one in both, the one whose ack the cut took), never in neither."""

from __future__ import annotations

import asyncio
import contextlib

import aio_pika
import pytest

from faststream_hare import HareBroker, QueueNotFoundError, ReplayError
from faststream_hare.ops import dead_letters
from tests.features.ops.test_ops_seed import message_ids, seed_dead
from tests.support.fault_proxy import FaultProxy
from tests.support.rabbit_admin import AMQP_URL

pytestmark = pytest.mark.rabbit

IDS = [f"m{n:02d}" for n in range(40)]
LETTERS = [(message_id, "ValueError", "bad order") for message_id in IDS]


def assert_nothing_lost(moved: tuple[str, ...], in_q: list[str], in_dead: list[str]) -> None:
    """Every id is in ``Q`` or ``Q.dead``; ``Q`` holds the reported moves, in order."""
    assert set(in_q) | set(in_dead) == set(IDS)
    assert len(set(in_q)) == len(in_q)
    assert len(set(in_dead)) == len(in_dead)
    assert in_q == IDS[: len(in_q)]  # FIFO
    assert list(moved) == in_q[: len(moved)]
    # At most one copy more than reported (confirmed as the link went) and at most one
    # message in both queues (its copy confirmed, its ack cut): a duplicate, never a loss.
    assert len(in_q) - len(moved) <= 1
    assert len(set(in_q) & set(in_dead)) <= 1
    assert in_dead == [i for i in IDS if i in in_dead]  # order kept


async def test_replay_of_a_missing_queue_raises_replay_error(prefix: str) -> None:
    with pytest.raises(ReplayError) as stopped:
        await dead_letters.replay_dead(AMQP_URL, f"{prefix}.missing")
    assert isinstance(stopped.value.__cause__, QueueNotFoundError)
    assert f"Queue '{prefix}.missing.dead' does not exist" in str(stopped.value)
    assert stopped.value.moved == 0

    broker = HareBroker(AMQP_URL, logger=None)
    async with broker:
        await broker.start()
        with pytest.raises(ReplayError) as stopped:
            await broker.republish_dead_messages(f"{prefix}.missing", 5)
    assert isinstance(stopped.value.__cause__, QueueNotFoundError)
    assert stopped.value.moved == 0


async def test_a_cut_mid_replay_dead_raises_replay_error_and_loses_nothing(prefix: str) -> None:
    await seed_dead(prefix, LETTERS)
    async with FaultProxy() as proxy:

        def cut_at_ten(done: int, _total: int) -> None:
            if done == 10:
                proxy.cut()

        with pytest.raises(ReplayError) as stopped:
            await dead_letters.replay_dead(proxy.url(), prefix, on_progress=cut_at_ten)
    error = stopped.value
    assert error.moved == 10
    assert error.__cause__ is not None
    assert "the rest stay in" in str(error)
    assert_nothing_lost(
        error.report.ids, await message_ids(prefix), await message_ids(f"{prefix}.dead")
    )


async def depth(name: str) -> int:
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        return int(queue.declaration_result.message_count or 0)
    finally:
        await connection.close()


async def test_a_cut_mid_republish_raises_replay_error_and_loses_nothing(prefix: str) -> None:
    await seed_dead(prefix, LETTERS)
    async with FaultProxy() as proxy:
        broker = HareBroker(proxy.url(), logger=None)
        async with broker:
            await broker.start()
            proxy.slow(0.005)  # a move takes some round trips: the watcher sees it half-way

            async def cut_half_way() -> None:
                for _ in range(2_000):  # 20 s at most
                    if await depth(prefix) >= 10:
                        proxy.cut()
                        return
                    await asyncio.sleep(0.01)

            watcher = asyncio.create_task(cut_half_way())
            try:
                with pytest.raises(ReplayError) as stopped:
                    await broker.republish_dead_messages(prefix, len(IDS))
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            proxy.slow(0)
    error = stopped.value
    # 9 when the 10th copy was stored but its confirm was cut (it counts as not moved)
    assert 9 <= error.moved < len(IDS)
    assert error.__cause__ is not None
    assert_nothing_lost(
        error.report.ids, await message_ids(prefix), await message_ids(f"{prefix}.dead")
    )
