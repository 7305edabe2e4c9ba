"""HareRouter subscribers (with a prefix) and quorum queues retry like any hare subscriber."""

from __future__ import annotations

import pytest
from faststream.rabbit import TestRabbitBroker

from faststream_hare import HareBroker, HareConfigError, HareRouter
from faststream_hare.testing import dead_letters
from tests.support.amqp import wait_depth
from tests.support.rabbit_admin import RabbitAdmin
from tests.support.waiting import eventually


def build(prefix: str, url: str | None = None) -> tuple[HareBroker, list[str]]:
    router = HareRouter(prefix=f"{prefix}.")
    seen: list[str] = []

    @router.subscriber("routed", exchange=f"{prefix}.ex", retry_limit=1, delay_in_ms=50)
    async def handle(body: str) -> None:
        seen.append(body)
        if body == "bad":
            raise ValueError("bad body")

    broker = HareBroker(url) if url else HareBroker()
    broker.include_router(router)
    return broker, seen


@pytest.mark.rabbit
async def test_router_subscriber_declares_prefixed_topology(
    prefix: str, broker_url: str, admin: RabbitAdmin
) -> None:
    broker, seen = build(prefix, broker_url)
    queue = f"{prefix}.routed"
    async with broker:
        await broker.start()
        assert admin.queue(f"{queue}.delay") is not None
        await broker.publish("ok", exchange=f"{prefix}.ex", routing_key=queue)
        await broker.publish("bad", exchange=f"{prefix}.ex", routing_key=queue)
        await wait_depth(f"{queue}.dead", 1)
        await eventually(lambda: seen.count("bad") == 2)
    assert seen.count("ok") == 1


async def test_router_subscriber_in_memory() -> None:
    broker, seen = build("mem")
    async with TestRabbitBroker(broker) as br:
        await br.publish("bad", exchange="mem.ex", routing_key="mem.routed")
    assert seen == ["bad", "bad"]
    assert len(dead_letters(broker, "mem.routed")) == 1


async def test_router_outside_a_hare_broker_is_a_clear_error() -> None:
    from faststream.rabbit import RabbitBroker

    router = HareRouter()

    @router.subscriber("lonely", retry_limit=1)
    async def handle(body: str) -> None:
        return None

    broker = RabbitBroker()
    broker.include_router(router)
    with pytest.raises(HareConfigError, match="HareBroker"):
        await router.subscribers[0].start()


@pytest.mark.rabbit
async def test_quorum_queue_retries_and_dead_letters(prefix: str, broker_url: str) -> None:
    queue = f"{prefix}.qq"
    broker = HareBroker(broker_url)
    calls = 0

    @broker.subscriber(queue, queue_type="quorum", retry_limit=2, delay_cascade_in_ms=[50])
    async def handle(body: str) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("always")

    async with broker:
        await broker.start()
        await broker.publish("x", queue=queue)
        await wait_depth(f"{queue}.dead", 1)
    assert calls == 3
