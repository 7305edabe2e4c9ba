"""The declared topology on a real RabbitMQ matches the plan exactly (docs/design.md, Topology)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from faststream_hare import HareBroker, HareSettings, HareSubscriber, HareTopologyError
from tests.support.rabbit_admin import RabbitAdmin, classic_arguments
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit


async def test_classic_subscriber_with_cascade(
    prefix: str, broker_url: str, admin: RabbitAdmin
) -> None:
    queue, exchange = f"{prefix}.orders", f"{prefix}.orders_ex"
    broker = HareBroker(broker_url, settings=HareSettings(message_ttl_ms=86_400_000))
    got: list[dict] = []

    @broker.subscriber(
        queue,
        exchange=exchange,
        routing_key="order.created",
        delay_cascade_in_ms=[5_000, 15_000, 30_000],
    )
    async def handle(order: dict) -> None:
        got.append(order)

    async with broker:
        await broker.start()
        main = admin.queue(queue)
        assert main is not None
        assert main["durable"] is True
        assert classic_arguments(main) == {}
        for delay in (5_000, 15_000, 30_000):
            info = admin.queue(f"{queue}.delay.{delay}")
            assert info is not None
            assert info["durable"] is True
            assert classic_arguments(info) == {
                "x-message-ttl": delay,
                "x-dead-letter-exchange": queue,
                "x-dead-letter-routing-key": "order.created",
            }
        assert admin.queue(f"{queue}.delay") is None
        dead = admin.queue(f"{queue}.dead")
        assert dead is not None
        assert classic_arguments(dead) == {"x-message-ttl": 86_400_000}
        for name in (exchange, queue):
            info = admin.exchange(name)
            assert info is not None
            assert (info["type"], info["durable"]) == ("topic", True)
        bindings = set(admin.bindings(prefix))
        assert (exchange, queue, "exchange", "order.created") in bindings
        assert (queue, queue, "queue", "order.created") in bindings

        await broker.publish({"id": 1}, exchange=exchange, routing_key="order.created")
        await eventually(lambda: got == [{"id": 1}])


async def test_subscriber_without_cascade_or_exchange(
    prefix: str, broker_url: str, admin: RabbitAdmin
) -> None:
    queue = f"{prefix}.jobs"
    broker = HareBroker(broker_url)
    got: list[str] = []

    @broker.subscriber(queue, delay_in_ms=2_500)
    async def handle(body: str) -> None:
        got.append(body)

    async with broker:
        await broker.start()
        delay = admin.queue(f"{queue}.delay")
        assert delay is not None
        assert delay["arguments"]["x-message-ttl"] == 2_500
        assert delay["arguments"]["x-dead-letter-routing-key"] == queue
        dead = admin.queue(f"{queue}.dead")
        assert dead is not None
        assert classic_arguments(dead) == {"x-message-ttl": 31_449_600_000}
        await broker.publish("hi", queue=queue)
        await eventually(lambda: got == ["hi"])


async def test_quorum_main_queue(prefix: str, broker_url: str, admin: RabbitAdmin) -> None:
    queue = f"{prefix}.quorum"
    broker = HareBroker(broker_url)

    @broker.subscriber(queue, queue_type="quorum", delay_in_ms=1_000)
    async def handle(body: str) -> None:
        return None

    async with broker:
        await broker.start()
        info = admin.queue(queue)
        assert info is not None
        assert info["type"] == "quorum"


async def test_changed_delay_gives_topology_error_and_connection_survives(
    prefix: str, broker_url: str, admin: RabbitAdmin
) -> None:
    queue = f"{prefix}.ttl"
    first = HareBroker(broker_url)

    @first.subscriber(queue, delay_in_ms=1_000)
    async def one(body: str) -> None:
        return None

    async with first:
        await first.start()

    second = HareBroker(broker_url)
    got: list[str] = []

    @second.subscriber(f"{prefix}.plain")
    async def plain(body: str) -> None:
        got.append(body)

    second.subscriber(queue, delay_in_ms=2_000)(one)
    async with second:
        with pytest.raises(HareTopologyError) as caught:
            await second.start()
        message = str(caught.value)
        assert f"'{queue}.delay'" in message
        assert "x-message-ttl" in message
        assert "1000" in message
        assert "2000" in message
        assert caught.value.entity == f"{queue}.delay"
        assert (caught.value.found, caught.value.wanted) == ("1000", 2_000)
        # only hare's own declaring channel was closed: the connection is still usable
        connection = await second.connect()
        assert not connection.is_closed
        await plain_start(second)
        await second.publish("still alive", queue=f"{prefix}.plain")
        await eventually(lambda: got == ["still alive"])


async def plain_start(broker: HareBroker) -> None:
    for sub in broker.subscribers:
        if not sub.running and not isinstance(sub, HareSubscriber):
            await sub.start()
    await asyncio.sleep(0)


async def test_changed_exchange_type_names_the_argument(prefix: str, broker_url: str) -> None:
    exchange = f"{prefix}.ex"
    first = HareBroker(broker_url)

    @first.subscriber(f"{prefix}.a", exchange=exchange, hare=True)
    async def a(body: str) -> None:
        return None

    async with first:
        await first.start()

    second = HareBroker(broker_url, settings=HareSettings(exchange_type="direct"))
    second.subscriber(f"{prefix}.b", exchange=exchange, hare=True)(a)
    async with second:
        with pytest.raises(HareTopologyError, match=r"type='topic'.*type='direct'"):
            await second.start()


async def test_dead_queue_with_haremqs_ttl_is_used_as_it_is_with_one_warning(
    prefix: str, broker_url: str, admin: RabbitAdmin, caplog: pytest.LogCaptureFixture
) -> None:
    queue = f"{prefix}.elixir"
    first = HareBroker(broker_url, settings=HareSettings(message_ttl_ms=31_449_600))

    @first.subscriber(queue, delay_in_ms=1_000)
    async def one(body: str) -> None:
        return None

    async with first:
        await first.start()

    second = HareBroker(broker_url)  # default: 31 449 600 000 ms
    handled: list[str] = []

    @second.subscriber(queue, delay_in_ms=1_000, retry_limit=0)
    async def two(body: str) -> None:
        handled.append(body)
        raise ValueError(body)

    with caplog.at_level(logging.WARNING, logger="faststream_hare"):
        async with second:
            await second.start()
            await second.publish("dead", queue=queue)
            await eventually(lambda: (admin.queue(f"{queue}.dead") or {}).get("messages") == 1)
    warnings = [r for r in caplog.records if "x-message-ttl" in r.getMessage()]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "31449600 ms" in text
    assert "31449600000 ms" in text
    assert "HARE_MQ_MESSAGE_TTL_MS=31449600" in text
    assert handled == ["dead"]
    info = admin.queue(f"{queue}.dead")
    assert info is not None
    assert info["arguments"]["x-message-ttl"] == 31_449_600
