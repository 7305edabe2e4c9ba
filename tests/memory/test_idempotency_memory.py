"""Idempotent consumers under TestRabbitBroker, with the broker's in-memory store."""

from __future__ import annotations

from typing import Any

from faststream.rabbit import TestRabbitBroker

from faststream_hare import HareBroker, Idempotency, MemoryIdempotencyStore
from faststream_hare.testing import dead_letters


async def test_the_same_message_id_twice_runs_the_handler_once(
    duplicates: list[dict[str, Any]],
) -> None:
    broker = HareBroker()
    handled: list[str] = []

    @broker.subscriber("orders", idempotent=Idempotency(period_ms=60_000))
    async def handle(body: str) -> None:
        handled.append(body)

    async with TestRabbitBroker(broker) as br:
        await br.publish("a", queue="orders", message_id="m-1")
        await br.publish("a again", queue="orders", message_id="m-1")
        await br.publish("b", queue="orders", message_id="m-2")

    assert handled == ["a", "b"]
    assert [(d["queue"], d["message_id"]) for d in duplicates] == [("orders", "m-1")]


async def test_keys_make_the_body_fields_the_identity() -> None:
    broker = HareBroker()
    handled: list[dict[str, int]] = []

    @broker.subscriber("orders", idempotent=Idempotency(60_000, keys=["order_id"]))
    async def handle(order: dict[str, int]) -> None:
        handled.append(order)

    async with TestRabbitBroker(broker) as br:
        await br.publish({"order_id": 1, "v": 1}, queue="orders", message_id="a")
        await br.publish({"order_id": 1, "v": 2}, queue="orders", message_id="b")
        await br.publish({"order_id": 2, "v": 1}, queue="orders", message_id="c")

    assert handled == [{"order_id": 1, "v": 1}, {"order_id": 2, "v": 1}]


async def test_a_failure_releases_the_key_so_the_retry_runs_the_handler() -> None:
    broker = HareBroker()
    store = MemoryIdempotencyStore()
    calls: list[str] = []

    @broker.subscriber("flaky", retry_limit=2, idempotent=Idempotency(60_000, store=store))
    async def handle(body: str) -> None:
        calls.append(body)
        if len(calls) == 1:
            raise ConnectionError("down")

    async with TestRabbitBroker(broker) as br:
        await br.publish("x", queue="flaky", message_id="f-1")
        await br.publish("x", queue="flaky", message_id="f-1")  # done now: skipped

    assert calls == ["x", "x"]
    assert dead_letters(broker, "flaky") == []
    assert len(store) == 1  # the done marker; the lease is gone


async def test_a_dead_lettered_message_is_not_marked_done() -> None:
    broker = HareBroker()
    calls = 0

    @broker.subscriber("doomed", retry_limit=0, idempotent=Idempotency(60_000))
    async def handle(body: str) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("no")

    async with TestRabbitBroker(broker) as br:
        await br.publish("x", queue="doomed", message_id="d-1")
        await br.publish("x", queue="doomed", message_id="d-1")

    assert calls == 2
    assert len(dead_letters(broker, "doomed")) == 2
    assert len(broker.hare_runtime.idempotency.memory) == 0
