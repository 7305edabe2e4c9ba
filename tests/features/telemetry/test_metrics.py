"""HareMetrics on the real broker, next to FastStream's own Prometheus middleware.

Each test runs real messages, then scrapes the registry and checks exact values.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from faststream.rabbit.prometheus import RabbitPrometheusMiddleware
from prometheus_client import CollectorRegistry

from faststream_hare import (
    AutoScaling,
    HareBroker,
    HareSettings,
    Idempotency,
    PublishResult,
    Unique,
)
from faststream_hare.telemetry.prometheus import HareMetrics
from tests.support.amqp import wait_depth
from tests.support.broker import AMQP_URL
from tests.support.pools import make_broker, running, wait_state
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> Iterator[HareMetrics]:
    metrics = HareMetrics(registry=registry)
    yield metrics
    metrics.close()


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def fast_broker(prefix: str, registry: CollectorRegistry | None = None) -> HareBroker:
    middlewares = () if registry is None else (RabbitPrometheusMiddleware(registry=registry),)
    return HareBroker(
        f"{AMQP_URL.rstrip('/')}/?name={prefix}",
        settings=HareSettings(reconnect_interval_ms=300),
        middlewares=middlewares,
        logger=None,
    )


@pytest.mark.usefixtures("metrics")
async def test_a_run_with_retries_dead_letters_duplicates_a_pool_and_a_stream(
    prefix: str, registry: CollectorRegistry
) -> None:
    orders, jobs, events = f"{prefix}.orders", f"{prefix}.jobs", f"{prefix}.events"
    orders_ex = f"{prefix}.orders_ex"
    broker = fast_broker(prefix, registry)
    handled: list[int] = []
    streamed: list[int] = []

    @broker.subscriber(orders, exchange=orders_ex, retry_limit=2, delay_cascade_in_ms=[50, 100])
    async def place(order: dict[str, int]) -> None:
        if order.get("fail"):
            raise KeyError("customer")
        handled.append(order["id"])

    @broker.subscriber(jobs, consumer_count=2)
    async def job(body: dict[str, int]) -> None:
        handled.append(body["n"])

    @broker.subscriber(events, stream=True, stream_offset="first")
    async def audit(event: dict[str, int]) -> None:
        streamed.append(event["n"])
        if event["n"] == 4:
            raise ValueError("the last event fails")

    publisher = broker.publisher(
        exchange=orders_ex, routing_key=orders, unique=Unique(period_ms=60_000, keys=["id"])
    )

    async with running(broker):
        results = [
            await publisher.publish_message({"id": 1}),
            await publisher.publish_message({"id": 1}),
            await publisher.publish_message({"id": 2, "fail": 1}),
        ]
        assert results == [PublishResult.OK, PublishResult.DUPLICATE, PublishResult.OK]
        for n in range(5):
            await broker.publish({"n": n}, queue=events)
        pool = broker.consumer_pool(jobs)
        await pool.add_consumer()
        await pool.add_consumer()
        await pool.remove_consumer()
        await wait_depth(f"{orders}.dead", 1, timeout=20)
        await eventually(lambda: len(streamed) == 5)
        await eventually(lambda: sample(registry, "hare_stream_offset", queue=events) == 4)
        assert sample(registry, "hare_pool_consumers", queue=jobs) == 3

    assert sample(registry, "hare_pool_consumers", queue=jobs) == 0  # the pool stopped
    assert sample(registry, "hare_retries_total", queue=orders, delay_ms="50") == 1
    assert sample(registry, "hare_retries_total", queue=orders, delay_ms="100") == 1
    dead = {"queue": orders, "reason": "retries_exhausted", "exception": "KeyError"}
    assert sample(registry, "hare_dead_lettered_total", **dead) == 1
    assert sample(registry, "hare_publish_total", exchange=orders_ex, result="ok") == 2
    assert sample(registry, "hare_publish_total", exchange=orders_ex, result="duplicate") == 1
    assert sample(registry, "hare_dedup_duplicates_total", exchange=orders_ex) == 1
    assert handled == [1]
    names = {metric.name for metric in registry.collect()}
    hare = {name for name in names if name.startswith("hare_")}
    faststream = {name for name in names if name.startswith("faststream_")}
    assert faststream, "FastStream's middleware shares the registry"
    assert hare.isdisjoint(faststream)
    assert hare | faststream == names


@pytest.mark.usefixtures("metrics")
async def test_a_single_delay_queue_is_labelled_with_its_delay(
    prefix: str, registry: CollectorRegistry
) -> None:
    queue = f"{prefix}.mail"
    broker = fast_broker(prefix)

    @broker.subscriber(queue, retry_limit=1, delay_in_ms=60)
    async def send(body: str) -> None:
        raise ConnectionError("smtp down")

    async with running(broker):
        await broker.publish("x", queue=queue)
        await wait_depth(f"{queue}.dead", 1, timeout=20)
    assert sample(registry, "hare_retries_total", queue=queue, delay_ms="60") == 1


@pytest.mark.usefixtures("metrics")
async def test_auto_scaler_depth_target_and_pool_size(
    prefix: str, registry: CollectorRegistry
) -> None:
    queue = f"{prefix}.jobs"
    broker = make_broker(prefix)
    release = asyncio.Event()
    scaling = AutoScaling(
        min_consumers=1, max_consumers=5, messages_per_consumer=10, check_interval_ms=100
    )

    @broker.subscriber(queue, auto_scaling=scaling)
    async def handle(body: dict[str, int]) -> None:
        await release.wait()

    async with running(broker):
        for n in range(25):
            await broker.publish({"n": n}, queue)
        # three workers each hold one message: 22 ready, target ceil(22 / 10) = 3
        await eventually(lambda: sample(registry, "hare_pool_consumers", queue=queue) == 3)
        await eventually(lambda: sample(registry, "hare_queue_depth", queue=queue) == 22)
        assert sample(registry, "hare_pool_target", queue=queue) == 3
        release.set()
        await wait_state(queue, lambda state: state.ready == 0)
        await eventually(lambda: sample(registry, "hare_queue_depth", queue=queue) == 0)
        await eventually(lambda: sample(registry, "hare_pool_consumers", queue=queue) == 1)


@pytest.mark.usefixtures("metrics")
async def test_poison_is_labelled_poison(prefix: str, registry: CollectorRegistry) -> None:
    queue = f"{prefix}.typed"
    broker = fast_broker(prefix)

    @broker.subscriber(queue, retry_limit=3)
    async def handle(body: dict[str, int]) -> None:
        pass

    async with running(broker):
        await broker.publish(b"not json", queue=queue)
        await wait_depth(f"{queue}.dead", 1, timeout=20)
    labels = {"queue": queue, "reason": "poison"}
    total = sum(
        s.value
        for metric in registry.collect()
        if metric.name == "hare_dead_lettered"
        for s in metric.samples
        if s.name.endswith("_total") and all(s.labels.get(k) == v for k, v in labels.items())
    )
    assert total == 1


@pytest.mark.usefixtures("metrics")
async def test_unroutable_publish_is_counted(prefix: str, registry: CollectorRegistry) -> None:
    exchange = f"{prefix}.nowhere"
    broker = fast_broker(prefix)
    publisher = broker.publisher(exchange=exchange, routing_key="nobody")
    async with running(broker):
        assert await publisher.publish_message({"x": 1}) is PublishResult.UNROUTABLE
    assert sample(registry, "hare_publish_total", exchange=exchange, result="unroutable") == 1


@pytest.mark.usefixtures("metrics")
async def test_replays_are_counted(prefix: str, registry: CollectorRegistry) -> None:
    queue = f"{prefix}.pay"
    broker = fast_broker(prefix)
    failing = True
    paid: list[int] = []

    @broker.subscriber(queue, retry_limit=0)
    async def pay(body: dict[str, int]) -> None:
        if failing:
            raise TimeoutError("bank")
        paid.append(body["n"])

    async with running(broker):
        for n in range(3):
            await broker.publish({"n": n}, queue=queue)
        await wait_depth(f"{queue}.dead", 3, timeout=20)
        failing = False
        assert await broker.republish_dead_messages(queue, count=10) == 3
        await eventually(lambda: len(paid) == 3)
    assert sample(registry, "hare_dead_letters_replayed_total", queue=queue) == 3


@pytest.mark.usefixtures("metrics")
async def test_stream_offset_follows_handled_messages(
    prefix: str, registry: CollectorRegistry
) -> None:
    queue = f"{prefix}.events"
    broker = fast_broker(prefix)
    seen: list[int] = []

    @broker.subscriber(queue, stream=True, stream_offset="first")
    async def audit(event: dict[str, int]) -> None:
        seen.append(event["n"])

    async with running(broker):
        for n in range(3):
            await broker.publish({"n": n}, queue=queue)
        await eventually(lambda: len(seen) == 3)
        await eventually(lambda: sample(registry, "hare_stream_offset", queue=queue) == 2, 5)


@pytest.mark.usefixtures("metrics")
async def test_consumer_duplicates_are_counted(prefix: str, registry: CollectorRegistry) -> None:
    queue = f"{prefix}.once"
    broker = fast_broker(prefix)
    handled: list[str] = []

    @broker.subscriber(queue, idempotent=Idempotency(period_ms=60_000))
    async def once(body: str) -> None:
        handled.append(body)

    async with running(broker):
        for _ in range(2):
            await broker.publish("x", queue=queue, message_id="same-id")
        await eventually(
            lambda: sample(registry, "hare_consumer_duplicates_total", queue=queue) == 1
        )
    assert handled == ["x"]
