"""A 404 on the publish channel fails only the publish to the missing exchange (§11, §19).

RabbitMQ closes the channel on a publish to an exchange that does not exist, and every
``publish_message`` in flight on it learns of the close. Only the one sent to the missing
exchange is ``UNROUTABLE``; the others were never refused, so they are ``NOT_CONNECTED`` (to
be published again) — never ``UNROUTABLE``, which a caller may drop.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import aio_pika
import pytest

from faststream_hare import HareBroker, PublishResult
from tests.support.amqp import drain
from tests.support.pools import running

pytestmark = pytest.mark.rabbit


async def test_only_the_publish_to_the_missing_exchange_is_unroutable(
    prefix: str, broker_url: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    broker = HareBroker(broker_url)
    gone = broker.publisher(exchange=f"{prefix}.gone", routing_key="x", hare=True)
    fine = broker.publisher(exchange=f"{prefix}.fine", routing_key="y", hare=True)
    async with running(broker):
        queue = await channel.declare_queue(f"{prefix}.fine-q", durable=True)
        await queue.bind(f"{prefix}.fine", "y")
        await channel.exchange_delete(f"{prefix}.gone")
        wrong = Counter[str]()
        for _ in range(5):
            missing, *others = await asyncio.gather(
                gone.publish_message({"to": "nowhere"}),
                *(fine.publish_message({"n": n}) for n in range(20)),
            )
            assert missing is PublishResult.UNROUTABLE
            wrong.update(str(r) for r in others if r is PublishResult.UNROUTABLE)
            assert set(others) <= {PublishResult.OK, PublishResult.NOT_CONNECTED}
        again = await fine.publish_message({"n": "after"})
        stored = await drain(queue)
    print(f"[around] 404 on the publish channel: others reported unroutable={sum(wrong.values())}")
    assert again is PublishResult.OK
    assert len(stored) >= 1
