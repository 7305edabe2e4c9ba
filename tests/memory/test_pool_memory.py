"""Pooled subscribers under ``TestRabbitBroker``: handled like any subscriber, pool API works."""

from __future__ import annotations

import pytest
from faststream.rabbit import TestRabbitBroker

from faststream_hare import AutoScaling, HareBroker, HareError
from faststream_hare.testing import dead_letters


def app() -> tuple[HareBroker, list[int]]:
    broker = HareBroker()
    seen: list[int] = []

    @broker.subscriber("jobs", consumer_count=3, retry_limit=1)
    async def handle(body: dict[str, int]) -> None:
        if body["n"] < 0:
            raise ValueError("negative")
        seen.append(body["n"])

    @broker.subscriber("scaled", auto_scaling=AutoScaling(min_consumers=2, max_consumers=4))
    async def scaled(body: dict[str, int]) -> None:
        seen.append(body["n"])

    @broker.subscriber("single", cluster_unique=True)
    async def single(body: dict[str, int]) -> None:
        seen.append(body["n"])

    @broker.subscriber("plain", hare=True)
    async def plain(body: dict[str, int]) -> None:
        seen.append(body["n"])

    return broker, seen


async def test_pooled_subscribers_receive_messages_in_memory() -> None:
    broker, seen = app()
    async with TestRabbitBroker(broker) as test_broker:
        for n, queue in enumerate(("jobs", "scaled", "single")):
            await test_broker.publish({"n": n}, queue)
    assert seen == [0, 1, 2]


async def test_pool_workers_retry_and_dead_letter_in_memory() -> None:
    broker, seen = app()
    async with TestRabbitBroker(broker) as test_broker:
        await test_broker.publish({"n": -1}, "jobs")
        dead = dead_letters(test_broker, "jobs")
    assert seen == []
    assert len(dead) == 1
    assert dead[0].json() == {"n": -1}


async def test_pool_api_in_memory() -> None:
    broker, _ = app()
    async with TestRabbitBroker(broker) as test_broker:
        pool = test_broker.consumer_pool("jobs")
        assert pool.list_consumers() == ["jobs.W1", "jobs.W2", "jobs.W3"]
        assert await pool.add_consumer() == "jobs.W4"
        assert await pool.remove_consumer() == "jobs.W4"
        assert await pool.remove_consumer() == "jobs.W3"
        assert pool.size == 2
        assert test_broker.consumer_pool("jobs") is pool
        assert test_broker.consumer_pool("scaled").size == 2  # min_consumers wins
        assert test_broker.consumer_pool("single").active_consumers() == ["single.W1"]
        with pytest.raises(HareError):
            test_broker.consumer_pool("plain")
    async with TestRabbitBroker(broker) as test_broker:
        assert test_broker.consumer_pool("jobs").size == 3  # a new session starts afresh
