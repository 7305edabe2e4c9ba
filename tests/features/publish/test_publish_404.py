"""A 404 on the publish channel fails only the publish to the missing exchange
(docs/publishing.md, ``publish_message``; docs/guarantees.md, Publishing).

RabbitMQ closes the channel on a publish to an exchange that does not exist, and every
``publish_message`` in flight on it learns of the close. Only the one sent to the missing
exchange is ``UNROUTABLE``; the others were never refused, so they are ``NOT_CONNECTED`` (to
be published again) — never ``UNROUTABLE``, which a caller may drop.
"""

from __future__ import annotations

import asyncio
import json
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
    ok: list[str] = []
    not_connected: list[str] = []
    wrong = Counter[str]()
    async with running(broker):
        queue = await channel.declare_queue(f"{prefix}.fine-q", durable=True)
        await queue.bind(f"{prefix}.fine", "y")
        await channel.exchange_delete(f"{prefix}.gone")
        for round_ in range(5):
            # confirmed on the channel the 404 is about to close: they stay OK and stored
            for n in range(4):
                message_id = f"m-{round_}-first-{n}"
                first = await fine.publish_message({"id": message_id})
                (ok if first is PublishResult.OK else not_connected).append(message_id)
            ids = [f"m-{round_}-{n}" for n in range(20)]
            # the 404 lands amid the others: those written before it can be confirmed
            before, after = ids[:10], ids[10:]
            results = await asyncio.gather(
                *(fine.publish_message({"id": message_id}) for message_id in before),
                gone.publish_message({"to": "nowhere"}),
                *(fine.publish_message({"id": message_id}) for message_id in after),
            )
            missing = results.pop(len(before))
            others = results
            assert missing is PublishResult.UNROUTABLE
            for message_id, result in zip(ids, others, strict=True):
                if result is PublishResult.OK:
                    ok.append(message_id)
                elif result is PublishResult.NOT_CONNECTED:
                    not_connected.append(message_id)
                else:
                    wrong[str(result)] += 1
        # what the caller was told to publish again, it publishes again: now each is OK
        again = [await fine.publish_message({"id": message_id}) for message_id in not_connected]
        stored = [json.loads(m.body)["id"] for m in await drain(queue)]
    published = ok + not_connected
    lost = sorted(set(published) - set(stored))
    duplicates = len(stored) - len(set(stored))
    print(
        f"[around] 404 on the publish channel: ok={len(ok)} not_connected={len(not_connected)} "
        f"others reported otherwise={sum(wrong.values())} stored={len(stored)} lost={len(lost)} "
        f"duplicates={duplicates}"
    )
    assert not wrong  # never UNROUTABLE (a caller may drop it), never anything else
    assert len(published) == 120
    assert ok  # the confirmed ones before each 404 at least
    assert set(again) <= {PublishResult.OK}
    assert lost == []  # every OK id is in the queue, and every NOT_CONNECTED one published again
    assert set(stored) == set(published)  # nothing else arrived
    # a NOT_CONNECTED publish may have reached the queue before the close: a duplicate, reported
    assert duplicates <= len(not_connected)
