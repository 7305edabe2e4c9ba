"""``hare doctor`` finds a broken way back from the delay queues to ``Q``.

A classic delay queue dead-letters an expired copy at most once: with exchange ``Q`` missing,
or queue ``Q`` no longer bound to it, the copy vanishes. The doctor reports both as failures.
"""

from __future__ import annotations

import aio_pika
import pytest

from faststream_hare import HareBroker
from faststream_hare.ops.doctor import diagnose
from faststream_hare.ops.doctor_facts import gather_facts
from tests.support.broker import MGMT_URL
from tests.support.rabbit_admin import AMQP_URL

pytestmark = pytest.mark.rabbit


async def test_a_missing_exchange_q_or_binding_is_a_failure(prefix: str, broker_url: str) -> None:
    broker = HareBroker(broker_url)
    no_exchange, unbound, fine = f"{prefix}.noex", f"{prefix}.unbound", f"{prefix}.fine"
    for queue in (no_exchange, unbound, fine):
        broker.subscriber(queue, delay_in_ms=1000)(_handler)
    async with broker:
        await broker.start()
        connection = await aio_pika.connect(AMQP_URL)
        try:
            channel = await connection.channel()
            await channel.exchange_delete(no_exchange)
            queue = await channel.declare_queue(unbound, passive=True)
            await queue.unbind(unbound, unbound)
        finally:
            await connection.close()
        facts, _notes = await gather_facts(broker, broker_url, mgmt_url=MGMT_URL)
    found = [f for f in diagnose(facts) if f.check == "return_path"]
    print(f"[around] doctor return_path findings: {[(f.queue, f.problem) for f in found]}")
    assert sorted(f.queue for f in found) == [no_exchange, unbound]
    assert all(f.level == "fail" and f.fix for f in found)
    (missing,) = [f for f in found if f.queue == no_exchange]
    assert f"exchange '{no_exchange}'" in missing.problem


async def _handler(body: str) -> None: ...
