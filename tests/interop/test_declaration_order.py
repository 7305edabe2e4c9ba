"""Either side may declare the shared topology first, with ``HARE_MQ_MESSAGE_TTL_MS=31449600``.

Both sides then consume the same queue: every message published to ``E`` is handled exactly once,
by hare or by HareMq. Without the setting, hare declaring first makes HareMq's consumer crash at
start (HareMq refuses any difference in ``Q.dead``); that is why the setting is documented.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from faststream_hare import HareBroker
from tests.interop.haremq import (
    HAREMQ_DEAD_TTL_MS,
    ElixirSide,
    HareMqBuild,
    Names,
    consumer_args,
    run_elixir_side,
)
from tests.support.amqp import depths
from tests.support.rabbit_admin import RabbitAdmin, classic_arguments
from tests.support.waiting import eventually

pytestmark = [pytest.mark.interop, pytest.mark.rabbit]

RETRY_LIMIT = 2
DELAY_MS = 500
MESSAGES = [f"order-{n}" for n in range(8)]


def haremq_consumer(names: Names) -> list[str]:
    return consumer_args(
        names.queue,
        exchange=names.exchange,
        routing_key=names.routing_key,
        retry_limit=RETRY_LIMIT,
        delay_ms=DELAY_MS,
    )


def hare_consumer(broker_url: str, names: Names, got: list[str]) -> HareBroker:
    broker = HareBroker(broker_url)  # settings from the environment when it starts

    @broker.subscriber(
        names.queue,
        exchange=names.exchange,
        routing_key=names.routing_key,
        retry_limit=RETRY_LIMIT,
        delay_in_ms=DELAY_MS,
    )
    async def handle(body: dict[str, Any]) -> None:
        got.append(body["id"])

    return broker


async def share_the_queue(
    broker: HareBroker, names: Names, got: list[str], side: ElixirSide
) -> None:
    """Publish to ``E``; each message is handled once, by one side or the other."""
    for message_id in MESSAGES:
        await broker.publish(
            {"id": message_id},
            exchange=names.exchange,
            routing_key=names.routing_key,
            message_id=message_id,
        )
    await eventually(lambda: len(got) + len(side.of("handled")) >= len(MESSAGES), timeout=30)
    queues = (names.queue, f"{names.queue}.delay", f"{names.queue}.dead")
    assert await depths(*queues) == dict.fromkeys(queues, 0)
    by_haremq = [e["id"] for e in side.of("handled")]
    assert sorted(got + by_haremq) == sorted(MESSAGES)
    assert all(e["result"] == "ok" and e["attempt"] == 1 for e in side.of("handled"))


def assert_haremq_dead_queue(admin: RabbitAdmin, names: Names) -> None:
    dead = admin.queue(f"{names.queue}.dead")
    assert dead is not None
    assert classic_arguments(dead) == {"x-message-ttl": HAREMQ_DEAD_TTL_MS}


async def test_hare_first_then_haremq_starts(
    names: Names,
    broker_url: str,
    haremq: HareMqBuild,
    admin: RabbitAdmin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HARE_MQ_MESSAGE_TTL_MS", str(HAREMQ_DEAD_TTL_MS))
    got: list[str] = []
    broker = hare_consumer(broker_url, names, got)
    async with broker:
        await broker.start()
        async with run_elixir_side(haremq, *haremq_consumer(names)) as side:
            await side.wait_for("ready", role="consumer")  # HareMq declared its topology
            await share_the_queue(broker, names, got, side)
            assert side.process.returncode is None
    assert_haremq_dead_queue(admin, names)


async def test_haremq_first_then_hare_starts(
    names: Names,
    broker_url: str,
    haremq: HareMqBuild,
    admin: RabbitAdmin,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("HARE_MQ_MESSAGE_TTL_MS", str(HAREMQ_DEAD_TTL_MS))
    got: list[str] = []
    async with run_elixir_side(haremq, *haremq_consumer(names)) as side:
        await side.wait_for("ready", role="consumer")
        broker = hare_consumer(broker_url, names, got)
        with caplog.at_level(logging.WARNING, logger="faststream_hare"):
            async with broker:
                await broker.start()  # no HareTopologyError: every argument matches
                await share_the_queue(broker, names, got, side)
    assert_haremq_dead_queue(admin, names)
    hare_warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("faststream_hare") and r.levelno >= logging.WARNING
    ]
    assert hare_warnings == []


async def test_without_the_setting_haremq_cannot_start_after_hare(
    names: Names, broker_url: str, haremq: HareMqBuild
) -> None:
    got: list[str] = []
    broker = hare_consumer(broker_url, names, got)  # default message_ttl_ms: about a year
    async with broker:
        await broker.start()
        async with run_elixir_side(haremq, *haremq_consumer(names)) as side:
            code = await side.wait_exit(timeout=60)  # its supervisor gives up
    assert code != 0
    assert side.of("ready") == []
    assert f"inequivalent arg 'x-message-ttl' for queue '{names.queue}.dead'" in side.stderr
