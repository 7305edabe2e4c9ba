"""HareRouter subscribers (with a prefix) and quorum queues retry like any hare subscriber."""

from __future__ import annotations

import pytest
from faststream.rabbit import RabbitBroker

from faststream_hare import HareConfigError, HareRouter
from tests.support.rabbit_admin import RabbitAdmin
from tests.support.transport import Transport
from tests.support.waiting import eventually


async def test_a_router_subscriber_retries_under_its_prefix(
    transport: Transport, admin: RabbitAdmin
) -> None:
    prefix = transport.prefix
    router = HareRouter(prefix=f"{prefix}.")
    seen: list[str] = []

    @router.subscriber("routed", exchange=f"{prefix}.ex", retry_limit=1, delay_in_ms=50)
    async def handle(body: str) -> None:
        seen.append(body)
        if body == "bad":
            raise ValueError("bad body")

    broker = transport.broker()
    broker.include_router(router)
    queue = f"{prefix}.routed"
    async with transport.running(broker):
        if transport.rabbit:
            assert admin.queue(f"{queue}.delay") is not None
        await broker.publish("ok", exchange=f"{prefix}.ex", routing_key=queue)
        await broker.publish("bad", exchange=f"{prefix}.ex", routing_key=queue)
        [dead] = await transport.dead(broker, queue, 1)
        await eventually(lambda: seen.count("bad") == 2)
    assert sorted(seen) == ["bad", "bad", "ok"]
    assert dead.body == b"bad"


async def test_a_router_outside_a_hare_broker_is_a_clear_error() -> None:
    router = HareRouter()

    @router.subscriber("lonely", retry_limit=1)
    async def handle(body: str) -> None:
        return None

    broker = RabbitBroker()
    broker.include_router(router)
    with pytest.raises(HareConfigError, match="HareBroker"):
        await router.subscribers[0].start()


async def test_a_quorum_queue_retries_and_dead_letters(transport: Transport) -> None:
    queue = transport.queue("qq")
    broker = transport.broker()
    calls = 0

    @broker.subscriber(queue, queue_type="quorum", retry_limit=2, delay_cascade_in_ms=[50])
    async def handle(body: str) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("always")

    async with transport.running(broker):
        await broker.publish("x", queue=queue)
        await transport.dead(broker, queue, 1)
    assert calls == 3
