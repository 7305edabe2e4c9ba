"""Copies in flight are settled per pool worker (per channel), never across workers
(docs/scaling.md, Removing a worker loses nothing; docs/guarantees.md).

Removing one worker waits for the handoffs of *its* channel only: another worker's copy still
waiting for its confirm is left alone (its original would otherwise sit unacked on a live
channel: a prefetch slot lost, a duplicate later). A handoff of the removed worker that does
not finish in time gives its original back with a bounded nack. Counts are exact.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support.amqp import depth
from tests.support.pools import make_broker, running
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit


async def test_removing_a_worker_settles_only_its_own_handoffs(prefix: str) -> None:
    queue = f"{prefix}.q"
    broker = make_broker(prefix, shutdown_drain_timeout_ms=300)
    stalled: list[str] = []

    @broker.subscriber(queue, consumer_count=2, prefetch_count=1, delay_in_ms=60_000)
    async def handle(body: str) -> None:
        raise ValueError("fails")

    async with running(broker):
        transport = broker.hare_runtime.transport

        async def confirm_never_comes(target: str, copy: Any) -> None:
            stalled.append(copy.message_id)
            await asyncio.sleep(3600)

        transport.send = confirm_never_comes  # type: ignore[method-assign]
        subscriber = broker.hare_subscribers()[0]
        for n in range(2):
            await broker.publish(f"m{n}", queue=queue, message_id=f"h-{n}")
            await eventually(lambda n=n: len(stalled) == n + 1)  # type: ignore[misc]
        pool = subscriber.pool
        assert len(subscriber.handoffs) == 2
        await pool.remove_consumer()
        left = len(subscriber.handoffs)
        back_in_queue = await depth(queue)
        print(f"[around] worker removed: other handoffs pending={left}, back in Q={back_in_queue}")
        assert left == 1  # the remaining worker's copy is still waiting for its confirm
        assert back_in_queue == 1  # the removed worker's original, given back
