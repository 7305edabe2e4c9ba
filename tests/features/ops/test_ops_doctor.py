"""``hare doctor`` provokes each finding on the real broker, and passes a healthy app."""

from __future__ import annotations

import asyncio
import json

import aio_pika
import pytest

from faststream_hare import HareBroker, HareSettings
from faststream_hare.ops.cli import main
from faststream_hare.ops.doctor import diagnose
from faststream_hare.ops.doctor_facts import gather_facts
from tests.support.amqp import wait_depth
from tests.support.broker import MGMT_URL
from tests.support.rabbit_admin import AMQP_URL

pytestmark = pytest.mark.rabbit

#: ``hare doctor tests.features.ops.test_ops_doctor:APP`` reads the broker a test put here.
APP: HareBroker | None = None
APP_PATH = "tests.features.ops.test_ops_doctor:APP"


async def doctor(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, list]]:
    capsys.readouterr()
    code = await asyncio.to_thread(
        main, ["doctor", APP_PATH, "--json", "--mgmt-url", MGMT_URL, *extra]
    )
    report = json.loads(capsys.readouterr().out)
    by_check: dict[str, list] = {}
    for finding in report["findings"]:
        by_check.setdefault(finding["check"], []).append(finding)
    return code, by_check


async def never_ack(message: aio_pika.abc.AbstractIncomingMessage) -> None:
    """A worker with prefetch 1 that keeps the one message it got."""


async def test_a_healthy_app_passes(
    prefix: str, broker_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    global APP
    APP = broker = HareBroker(broker_url)

    @broker.subscriber(f"{prefix}.ok", delay_in_ms=1000)
    async def ok(body: str) -> None:
        return None

    async with broker:
        await broker.start()
        code, findings = await doctor(capsys)
    assert (code, findings) == (0, {})
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["doctor", APP_PATH, "--mgmt-url", MGMT_URL]) == 0
    assert "8 checks, all passed" in capsys.readouterr().out


async def test_each_finding_is_provoked(
    prefix: str, broker_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    global APP
    settings = HareSettings(
        message_ttl_ms=60_000, stream_url="rabbitmq-stream://guest:guest@127.0.0.1:1/"
    )
    APP = broker = HareBroker(broker_url, settings=settings)

    @broker.subscriber(f"{prefix}.slow", delay_in_ms=120_000)
    async def slow(body: str) -> None: ...

    @broker.subscriber(f"{prefix}.args", delay_in_ms=1000)
    async def args(body: str) -> None: ...

    @broker.subscriber(f"{prefix}.quorum", queue_type="quorum", retry_limit=5)
    async def quorum(body: str) -> None: ...

    @broker.subscriber(f"{prefix}.deep", prefetch_count=1)
    async def deep(body: str) -> None: ...

    @broker.subscriber(f"{prefix}.events", stream=True)
    async def events(body: str) -> None: ...

    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        await channel.declare_queue(
            f"{prefix}.args.delay",
            durable=True,
            arguments={
                "x-message-ttl": 999,
                "x-dead-letter-exchange": f"{prefix}.args",
                "x-dead-letter-routing-key": f"{prefix}.args",
            },
        )
        await channel.declare_queue(
            f"{prefix}.quorum",
            durable=True,
            arguments={"x-queue-type": "quorum", "x-delivery-limit": 2},
        )
        await channel.declare_queue(f"{prefix}.slow", durable=True)  # a backlog, no consumer
        await channel.declare_queue(f"{prefix}.deep", durable=True)
        for _ in range(2):
            await channel.default_exchange.publish(aio_pika.Message(b"x"), f"{prefix}.slow")
        for _ in range(5):
            await channel.default_exchange.publish(aio_pika.Message(b"x"), f"{prefix}.deep")
        worker = await connection.channel()
        await worker.set_qos(prefetch_count=1)
        held = await worker.declare_queue(f"{prefix}.deep", passive=True)
        await held.consume(never_ack)
        await wait_depth(f"{prefix}.deep", 4)

        code, findings = await doctor(capsys, "--deep", "3")
        assert code == 1
        queues = {c: sorted(f["queue"] for f in fs) for c, fs in findings.items()}
        assert queues["stream_plugin"] == [f"{prefix}.events"]
        assert f"{prefix}.args" in queues["topology"]
        (mismatch,) = [f for f in findings["topology"] if f["queue"] == f"{prefix}.args"]
        assert "x-message-ttl=999" in mismatch["problem"]
        assert "1000" in mismatch["problem"]
        assert queues["quorum_delivery_limit"] == [f"{prefix}.quorum"]
        assert f"{prefix}.slow" in queues["dead_ttl"]
        assert queues["delay_above_dead_ttl"] == [f"{prefix}.slow"]
        assert queues["prefetch_single_worker"] == [f"{prefix}.deep"]
        assert queues["no_consumer"] == [f"{prefix}.slow"]
        assert all(f["fix"] for fs in findings.values() for f in fs)

        capsys.readouterr()
        assert (
            await asyncio.to_thread(
                main, ["doctor", APP_PATH, "--mgmt-url", MGMT_URL, "--deep", "3"]
            )
            == 1
        )
        out = capsys.readouterr().out
        assert f"FAIL no_consumer {prefix}.slow: '{prefix}.slow' has 2 messages waiting" in out
        assert "fix: start the app" in out

        facts, notes = await gather_facts(broker, broker_url, mgmt_url=MGMT_URL)
        assert notes == []
        assert {f.check for f in diagnose(facts, deep_queue=3)} >= {"no_consumer", "topology"}
    finally:
        await connection.close()
