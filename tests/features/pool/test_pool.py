"""Consumer pools (``consumer_count``, ``auto_scaling``, ``cluster_unique``), in memory and on
RabbitMQ: handled like any subscriber, the pool API, retries from pooled workers."""

from __future__ import annotations

from collections import Counter

import pytest
from faststream.rabbit import TestRabbitBroker

from faststream_hare import AutoScaling, HareBroker, HareError
from tests.support.pools import wait_state
from tests.support.transport import Transport
from tests.support.waiting import eventually


def app(transport: Transport) -> tuple[HareBroker, list[int]]:
    broker = transport.broker()
    seen: list[int] = []

    @broker.subscriber(transport.queue("jobs"), consumer_count=3, retry_limit=1)
    async def handle(body: dict[str, int]) -> None:
        seen.append(body["n"])

    @broker.subscriber(
        transport.queue("scaled"), auto_scaling=AutoScaling(min_consumers=2, max_consumers=4)
    )
    async def scaled(body: dict[str, int]) -> None:
        seen.append(body["n"])

    @broker.subscriber(transport.queue("single"), cluster_unique=True)
    async def single(body: dict[str, int]) -> None:
        seen.append(body["n"])

    @broker.subscriber(transport.queue("plain"), hare=True)
    async def plain(body: dict[str, int]) -> None:
        seen.append(body["n"])

    return broker, seen


async def test_pooled_subscribers_receive_messages(transport: Transport) -> None:
    broker, seen = app(transport)
    async with transport.running(broker):
        for n, name in enumerate(("jobs", "scaled", "single")):
            await broker.publish({"n": n}, transport.queue(name))
        await eventually(lambda: len(seen) == 3)
    assert sorted(seen) == [0, 1, 2]


async def test_the_pool_api(transport: Transport) -> None:
    broker, _ = app(transport)
    jobs, single = transport.queue("jobs"), transport.queue("single")
    async with transport.running(broker):
        pool = broker.consumer_pool(jobs)
        assert pool.list_consumers() == [f"{jobs}.W1", f"{jobs}.W2", f"{jobs}.W3"]
        assert await pool.add_consumer() == f"{jobs}.W4"
        assert await pool.remove_consumer() == f"{jobs}.W4"
        assert await pool.remove_consumer() == f"{jobs}.W3"
        assert pool.size == 2
        assert broker.consumer_pool(jobs) is pool
        assert broker.consumer_pool(transport.queue("scaled")).size == 2  # min_consumers wins
        await eventually(
            lambda: broker.consumer_pool(single).active_consumers() == [f"{single}.W1"]
        )
        with pytest.raises(HareError):
            broker.consumer_pool(transport.queue("plain"))


async def test_add_and_remove_consumers(transport: Transport) -> None:
    queue = transport.queue("jobs")
    broker = transport.broker()
    seen: list[int] = []

    @broker.subscriber(queue, consumer_count=2)
    async def handle(body: dict[str, int]) -> None:
        seen.append(body["n"])

    async with transport.running(broker):
        pool = broker.consumer_pool(queue)
        assert await pool.add_consumer() == f"{queue}.W3"
        assert pool.size == 3
        if transport.rabbit:
            await wait_state(queue, lambda s: s.consumers == 3)
        assert await pool.remove_consumer() == f"{queue}.W3"
        assert await pool.remove_consumer() == f"{queue}.W2"
        assert pool.list_consumers() == [f"{queue}.W1"]
        if transport.rabbit:
            await wait_state(queue, lambda s: s.consumers == 1)
        assert await pool.add_consumer() == f"{queue}.W2"
        for n in range(20):
            await broker.publish({"n": n}, queue)
        await eventually(lambda: len(seen) == 20)
    assert sorted(seen) == list(range(20))


async def test_pool_workers_retry_and_dead_letter(transport: Transport) -> None:
    queue = transport.queue("jobs")
    broker = transport.broker()
    calls: Counter[int] = Counter()

    @broker.subscriber(queue, consumer_count=2, retry_limit=1, delay_in_ms=100)
    async def handle(body: dict[str, int]) -> None:
        calls[body["n"]] += 1
        if body["n"] < 0:
            raise ValueError("always fails")

    async with transport.running(broker):
        for n in (-3, -2, -1, 1, 2, 3, 4, 5):
            await broker.publish({"n": n}, queue)
        dead = await transport.dead(broker, queue, 3)
        await eventually(lambda: sum(calls.values()) == 11)
        await transport.assert_empty(queue, f"{queue}.delay")
    assert calls == {-3: 2, -2: 2, -1: 2, 1: 1, 2: 1, 3: 1, 4: 1, 5: 1}
    assert sorted(d.json()["n"] for d in dead) == [-3, -2, -1]


async def test_a_new_test_session_starts_the_pools_afresh_in_memory() -> None:
    broker = HareBroker()

    @broker.subscriber("jobs", consumer_count=3)
    async def handle(body: str) -> None: ...

    async with TestRabbitBroker(broker):
        assert await broker.consumer_pool("jobs").add_consumer() == "jobs.W4"
    async with TestRabbitBroker(broker):
        assert broker.consumer_pool("jobs").size == 3
