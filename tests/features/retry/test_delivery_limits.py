"""Quorum delivery limits (RabbitMQ 4.0 drops a message returned more than 20 times by default).

Every test runs on the broker in use (``HARE_TEST_AMQP_URL``): 3.10 in the default run, 4.0
when pointed at it. Each one returns messages to a quorum ``Q`` more than 20 times through one
of hare's own paths and then counts message ids exactly: every id is in ``Q`` or ``Q.dead``
(or handled), none is gone.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator

import aio_pika
import pytest
from faststream.rabbit.annotations import RabbitMessage

from faststream_hare import HareBroker, Idempotency
from faststream_hare.ops.cli import main
from faststream_hare.retry import idempotent
from faststream_hare.retry.requeue_backoff import RequeueBackoff
from faststream_hare.topology.delivery_limit import BrokerVersion, server_version
from tests.faults.accounting import message_ids
from tests.support.amqp import AMQP_URL, drain, wait_depth
from tests.support.broker import MGMT_URL
from tests.support.log_count import LogCount
from tests.support.pools import make_broker, running, wait_state
from tests.support.rabbit_admin import RabbitAdmin
from tests.support.redis_server import ThrowawayRedis
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit

#: More returns than RabbitMQ 4.0's default limit of 20 allows.
RETURNS = 30


@pytest.fixture
async def version() -> AsyncIterator[BrokerVersion]:
    connection = await aio_pika.connect(AMQP_URL)
    try:
        found = server_version(connection)
        assert found is not None
        yield found
    finally:
        await connection.close()


async def test_quorum_queues_are_declared_without_a_limit_on_each_version(
    prefix: str, broker_url: str, admin: RabbitAdmin, version: BrokerVersion
) -> None:
    queue = f"{prefix}.q"
    broker = HareBroker(broker_url, logger=None)
    broker.subscriber(queue, queue_type="quorum", delay_in_ms=100)(_never)
    async with running(broker):
        pass
    arguments = {q["name"]: q["arguments"] for q in admin.queues(prefix)}
    wanted = -1 if version >= (4,) else None  # -1 lifts it on 4.0; on 3.10 it drops at once
    assert arguments[queue].get("x-delivery-limit") == wanted
    assert arguments[f"{queue}.dead"].get("x-delivery-limit") == wanted
    assert "x-delivery-limit" not in arguments[f"{queue}.delay"]  # nobody consumes it
    assert arguments[f"{queue}.delay"]["x-dead-letter-strategy"] == "at-least-once"


async def _never(body: str) -> None:
    raise AssertionError("no message is published")


def _always_failing(broker_url: str, queue: str) -> tuple[HareBroker, Counter[str]]:
    """A quorum subscriber whose handler always raises, and its runs by message id."""
    broker = HareBroker(broker_url, logger=None)
    runs: Counter[str] = Counter()

    @broker.subscriber(queue, queue_type="quorum", retry_limit=3, delay_in_ms=100)
    async def handle(body: str, message: RabbitMessage) -> None:
        runs[str(message.message_id)] += 1
        raise ValueError("always")

    return broker, runs


async def _copies_unconfirmable(broker: HareBroker, queue: str, ids: list[str]) -> None:
    """Delete ``Q.delay`` (every retry copy comes back unroutable), then publish ``ids``."""
    broker.hare_subscriber(queue).requeue_backoff = RequeueBackoff(0.01, 0.02)
    connection = await broker.connect()
    channel = await connection.channel()
    await channel.queue_delete(f"{queue}.delay")
    await channel.close()
    for message_id in ids:
        await broker.publish("stuck", queue=queue, message_id=message_id)


async def test_a_copy_unconfirmed_30_times_leaves_every_message_in_q(
    prefix: str, broker_url: str
) -> None:
    queue = f"{prefix}.stuck"
    broker, runs = _always_failing(broker_url, queue)
    ids = [f"s-{n}" for n in range(3)]
    async with running(broker):
        await _copies_unconfirmable(broker, queue, ids)
        await eventually(lambda: all(runs[i] > RETURNS for i in ids), timeout=60)
    left = await message_ids(queue)
    dead = await message_ids(f"{queue}.dead")
    assert left + dead == Counter(ids)  # each id exactly once: none lost, none doubled
    assert left == Counter(ids)  # the limit is lifted: they wait in Q for the delay queue


async def test_an_idempotency_store_down_for_30_redeliveries_loses_nothing(
    prefix: str, throwaway_redis: ThrowawayRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idempotent, "STORE_DOWN_FIRST_S", 0.01)
    monkeypatch.setattr(idempotent, "STORE_DOWN_MAX_S", 0.02)
    queue = f"{prefix}.down"
    broker = make_broker(prefix)
    handled: list[str] = []
    returns = LogCount("goes back to the queue")
    logger = logging.getLogger("faststream_hare.idempotency")
    logger.addHandler(returns)

    @broker.subscriber(
        queue, queue_type="quorum", idempotent=Idempotency(60_000, store=throwaway_redis.url)
    )
    async def handle(body: str, message: RabbitMessage) -> None:
        handled.append(str(message.message_id))

    throwaway_redis.start()
    await eventually(throwaway_redis.answers, timeout=15)
    try:
        async with running(broker):
            await broker.publish("x", queue=queue, message_id="before")
            await eventually(lambda: handled == ["before"])
            throwaway_redis.stop()
            await broker.publish("x", queue=queue, message_id="d-1")
            await eventually(lambda: returns.count > RETURNS, timeout=60)
            assert handled == ["before"]  # never handled unchecked
            throwaway_redis.start()
            await eventually(lambda: handled == ["before", "d-1"], timeout=30)
            await wait_depth(queue, 0)
    finally:
        logger.removeHandler(returns)
    assert handled == ["before", "d-1"]
    assert await message_ids(f"{queue}.dead") == Counter()


async def test_a_pool_worker_stopped_30_times_loses_nothing(prefix: str) -> None:
    """Each stop past the drain cap closes the worker's channel: its unacked messages return."""
    queue = f"{prefix}.jobs"
    broker = make_broker(prefix, shutdown_drain_timeout_ms=50)
    release = asyncio.Event()
    seen: Counter[int] = Counter()
    counts: list[int] = []

    @broker.subscriber(queue, queue_type="quorum", consumer_count=2, prefetch_count=5)
    async def handle(body: dict[str, int], message: RabbitMessage) -> None:
        await release.wait()
        counts.append(int((message.headers or {}).get("x-delivery-count") or 0))
        seen[body["n"]] += 1

    async with running(broker):
        pool = broker.consumer_pool(queue)
        await pool.remove_consumer()  # one worker holds all five
        for n in range(5):
            await broker.publish({"n": n}, queue)
        for _ in range(RETURNS):
            await wait_state(queue, lambda s: s.ready == 0 and s.consumers == 1)
            await pool.remove_consumer()
            await wait_state(queue, lambda s: s.ready == 5 and s.consumers == 0)
            await pool.add_consumer()
        await wait_state(queue, lambda s: s.ready == 0 and s.consumers == 1)
        release.set()
        await eventually(lambda: set(range(5)) <= set(seen), timeout=30)
        await wait_state(queue, lambda s: s.ready == 0)
    assert set(seen) == set(range(5))
    assert max(counts) >= RETURNS  # each came back more often than 4.0's default allows
    assert await message_ids(f"{queue}.dead") == Counter()


async def _declare_as_before(queue: str) -> None:
    """The quorum topology as hare declared it before it knew of delivery limits (raw)."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        quorum = {"x-queue-type": "quorum"}
        await channel.declare_exchange(queue, "topic", durable=True)
        main = await channel.declare_queue(queue, durable=True, arguments=quorum)
        await main.bind(queue, routing_key=queue)
        delay = {
            **quorum,
            "x-message-ttl": 100,
            "x-dead-letter-exchange": queue,
            "x-dead-letter-routing-key": queue,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
        await channel.declare_queue(f"{queue}.delay", durable=True, arguments=delay)
        dead = {**quorum, "x-message-ttl": 31_449_600_000}
        await channel.declare_queue(f"{queue}.dead", durable=True, arguments=dead)
    finally:
        await connection.close()


async def test_an_upgraded_topology_starts_and_never_lets_the_broker_drop_a_message(
    prefix: str, broker_url: str, version: BrokerVersion, caplog: pytest.LogCaptureFixture
) -> None:
    """Queues declared on 3.10 keep RabbitMQ 4.0's default limit of 20 after an upgrade: hare
    starts on them and dead-letters a message before its requeues could reach the limit."""
    queue = f"{prefix}.old"
    await _declare_as_before(queue)
    broker, runs = _always_failing(broker_url, queue)
    ids = [f"u-{n}" for n in range(3)]
    with caplog.at_level(logging.WARNING, logger="faststream_hare.topology"):
        async with running(broker):
            subscriber = broker.hare_subscriber(queue)
            await _copies_unconfirmable(broker, queue, ids)
            if version >= (4,):
                assert subscriber.delivery_limit == 20
                await wait_depth(f"{queue}.dead", len(ids), timeout=60)
            else:
                assert subscriber.delivery_limit is None
                await eventually(lambda: all(runs[i] > RETURNS for i in ids), timeout=60)
    kept = [r for r in caplog.records if "without x-delivery-limit" in r.getMessage()]
    left = await message_ids(queue)
    dead, reasons = await _dead_reasons(f"{queue}.dead")
    assert left + dead == Counter(ids)  # each id exactly once: none lost, none doubled
    if version >= (4,):
        assert dead == Counter(ids)
        assert reasons == {"delivery_limit"}
        assert max(runs.values()) < 20
        assert {r.getMessage().split("'")[1] for r in kept} == {queue, f"{queue}.dead"}
    else:
        assert left == Counter(ids)
        assert kept == []


async def _dead_reasons(queue: str) -> tuple[Counter[str], set[str]]:
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        messages = await drain(declared)
        reasons = {str((m.headers or {}).get("hare-reason")) for m in messages}
        return Counter(str(m.message_id) for m in messages), reasons
    finally:
        await connection.close()


#: ``hare doctor``/``hare status`` read the app a test put here.
APP: HareBroker | None = None
APP_PATH = "tests.features.retry.test_delivery_limits:APP"


async def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = await asyncio.to_thread(main, [*args, APP_PATH, "--mgmt-url", MGMT_URL])
    return code, capsys.readouterr().out


async def test_doctor_and_status_print_the_version_and_the_limit_in_force(
    prefix: str, broker_url: str, version: BrokerVersion, capsys: pytest.CaptureFixture[str]
) -> None:
    global APP
    old, new = f"{prefix}.old", f"{prefix}.new"
    await _declare_as_before(old)
    APP = broker = HareBroker(broker_url, logger=None)
    broker.subscriber(old, queue_type="quorum", delay_in_ms=100)(_never)
    broker.subscriber(new, queue_type="quorum", delay_in_ms=100)(_never)
    shown = ".".join(str(n) for n in version)
    async with running(broker):
        await asyncio.sleep(6)  # the management API's view of a new queue lags by seconds
        code, out = await _cli(capsys, "doctor", "--json")
        report = json.loads(out)
        _, text = await _cli(capsys, "doctor")
        _, status_out = await _cli(capsys, "status", "--json")
        _, status_text = await _cli(capsys, "status")
    limits = report["delivery_limits"]
    assert report["broker_version"] == shown
    assert f"RabbitMQ {shown}" in text
    assert f"RabbitMQ {shown}" in status_text
    assert limits[new]["limit"] is None
    assert limits[f"{new}.dead"]["limit"] is None
    rows = {r["name"]: r for s in json.loads(status_out) for r in s["rows"]}
    assert rows[new]["delivery_limit"] == "none"
    findings = [f for f in report["findings"] if f["check"] == "quorum_delivery_limit"]
    if version >= (4,):  # the old queues keep 4.0's default of 20: explained, with the fix
        assert limits[old] == {"limit": 20, "source": "default", "needed": None}
        assert rows[old]["delivery_limit"] == "20 (default)"
        assert f"delivery limit of {old}: 20 (default); hare needs none" in text
        assert {f["level"] for f in findings} == {"warn"}
        assert {f["queue"] for f in findings} == {old}
        assert all("set_policy hare-delivery-limit" in f["fix"] for f in findings)
        assert code == 0  # warnings only: hare starts on them and loses nothing
    else:
        assert limits[old]["limit"] is None
        assert rows[old]["delivery_limit"] == "none"
        assert findings == []
    assert not [f for f in report["findings"] if f["check"] == "topology"]
