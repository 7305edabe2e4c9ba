"""``hare status`` on the real broker: depths, delay and dead queues, pools, stream offsets."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from faststream_hare import AutoScaling, HareBroker
from faststream_hare.ops.cli import main
from faststream_hare.ops.status import gather_status
from faststream_hare.ops.target import Target
from tests.support.amqp import wait_depth
from tests.support.broker import MGMT_URL

pytestmark = pytest.mark.rabbit

#: ``hare status tests.features.ops.test_ops_status:APP`` reads the broker a test put here.
APP: HareBroker | None = None


def build_app(prefix: str, url: str) -> HareBroker:
    broker = HareBroker(url)

    @broker.subscriber(f"{prefix}.orders", retry_limit=0, delay_cascade_in_ms=[1000, 5000])
    async def orders(body: str) -> None:
        raise ValueError(f"bad order {body}")

    @broker.subscriber(f"{prefix}.jobs", consumer_count=2)
    async def jobs(body: str) -> None:
        return None

    @broker.subscriber(
        f"{prefix}.auto",
        auto_scaling=AutoScaling(min_consumers=1, max_consumers=4, messages_per_consumer=10),
    )
    async def auto(body: str) -> None:
        return None

    @broker.subscriber(f"{prefix}.events", stream=True, stream_consumer_name=f"{prefix}-audit")
    async def events(body: str) -> None:
        return None

    return broker


async def test_status_of_a_running_app(
    prefix: str, broker_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    global APP
    APP = broker = build_app(prefix, broker_url)
    app_path = "tests.features.ops.test_ops_status:APP"
    async with broker:
        await broker.start()
        await broker.publish("1", queue=f"{prefix}.orders")
        await broker.publish("2", queue=f"{prefix}.orders")
        await broker.publish("e0", queue=f"{prefix}.events")
        await wait_depth(f"{prefix}.orders.dead", 2)
        capsys.readouterr()
        assert (
            await asyncio.to_thread(main, ["status", app_path, "--json", "--mgmt-url", MGMT_URL])
            == 0
        )
        statuses = {s["queue"]: s for s in json.loads(capsys.readouterr().out)}
        orders = statuses[f"{prefix}.orders"]
        assert [(r["name"], r["role"]) for r in orders["rows"]] == [
            (f"{prefix}.orders", "queue"),
            (f"{prefix}.orders.delay.1000", "delay"),
            (f"{prefix}.orders.delay.5000", "delay"),
            (f"{prefix}.orders.dead", "dead"),
        ]
        assert orders["dead"] == 2
        assert orders["rows"][0]["consumers"] == 1
        assert (orders["pool_size"], orders["pool_target"]) == (None, None)  # not a pool
        jobs = statuses[f"{prefix}.jobs"]
        assert (jobs["pool_size"], jobs["pool_target"]) == (2, 2)
        assert jobs["rows"][0]["consumers"] == 2
        auto = statuses[f"{prefix}.auto"]
        assert (auto["pool_size"], auto["pool_target"]) == (1, 1)
        assert statuses[f"{prefix}.events"]["kind"] == "stream"
        assert statuses[f"{prefix}.events"]["stream_consumer"] == f"{prefix}-audit"
        events = statuses[f"{prefix}.events"]
        assert events["rows"][0]["ready"] is None  # a stream keeps messages: none is "ready"
        assert (events["pool_size"], events["pool_target"]) == (None, None)
        # RabbitMQ's AMQP count misses stream-protocol consumers: never a false 0
        stream_consumers = events["rows"][0]["consumers"]
        assert stream_consumers == 1 or (
            stream_consumers is None and "rabbitmq_stream_management" in events["notes"][-1]
        )
        assert await asyncio.to_thread(main, ["status", app_path, "--mgmt-url", MGMT_URL]) == 0
        table = capsys.readouterr().out
        assert f"{prefix}.orders.delay.5000" in table
        assert "2 / 2" in table
        assert "rabbitmq_stream_management" in table or "stream consumers" not in table
        assert "1 / 1" in table  # the auto-scaled pool; the plain queue shows no pool
    # stopped: the stream offset is stored on the server under the consumer name
    deadline = time.monotonic() + 15
    while (offset := await stream_offset(broker_url, broker, f"{prefix}.events")) != 0:
        assert time.monotonic() < deadline, f"stored offset is {offset}, expected 0"
        await asyncio.sleep(0.1)


async def stream_offset(url: str, broker: HareBroker, queue: str) -> int | None:
    statuses = await gather_status(Target(url, broker), mgmt_url=MGMT_URL)
    return {s.queue: s for s in statuses}[queue].stream_offset


async def test_status_with_url_and_queue(
    prefix: str, broker_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    broker = build_app(prefix, broker_url)
    async with broker:
        await broker.start()
        await broker.publish("1", queue=f"{prefix}.orders")
        await broker.publish("e0", queue=f"{prefix}.events")
        await wait_depth(f"{prefix}.orders.dead", 1)
        capsys.readouterr()
        # A stream named with --url is shown as a stream: no "ready", no delay or dead rows,
        # its stream-protocol consumer counted (AMQP counts none), and no pool.
        events = f"{prefix}.events"
        argv = ["status", "--url", broker_url, "--queue", events, "--mgmt-url", MGMT_URL]
        assert await asyncio.to_thread(main, [*argv, "--json"]) == 0
        (stream,) = json.loads(capsys.readouterr().out)
        assert stream["kind"] == "stream"
        assert [(r["name"], r["role"]) for r in stream["rows"]] == [(events, "stream")]
        assert (stream["rows"][0]["ready"], stream["rows"][0]["unacked"]) == (None, None)
        assert (stream["pool_size"], stream["pool_target"], stream["dead"]) == (None, None, None)
        consumers = stream["rows"][0]["consumers"]
        assert consumers == 1 or (
            consumers is None and "rabbitmq_stream_management" in stream["notes"][-1]
        )
        assert await asyncio.to_thread(main, argv) == 0
        table = capsys.readouterr().out
        assert f"{events}.delay" not in table
        assert f"{events}.dead" not in table
    capsys.readouterr()
    code = await asyncio.to_thread(
        main,
        [
            "status",
            "--url",
            broker_url,
            "--queue",
            f"{prefix}.orders",
            "--json",
            "--mgmt-url",
            MGMT_URL,
        ],
    )
    assert code == 0
    (status,) = json.loads(capsys.readouterr().out)
    assert status["dead"] == 1
    assert status["rows"][0]["consumers"] == 0
    assert status["kind"] == "classic"
    assert (status["pool_size"], status["pool_target"]) == (None, None)  # no APP: no pools
    code = await asyncio.to_thread(
        main, ["status", "--url", broker_url, "--queue", "nope.x", "--mgmt-url", MGMT_URL]
    )
    assert code == 2
    assert "Queue 'nope.x' does not exist" in capsys.readouterr().err
