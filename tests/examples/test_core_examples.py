"""Every core example under examples/ runs, in memory and against the real broker."""

from __future__ import annotations

import asyncio
import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest
from faststream.rabbit import TestRabbitBroker

from tests.support.amqp import wait_depth
from tests.support.faststream_run import run_app_until
from tests.support.transport import Transport
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


def fresh(name: str) -> ModuleType:
    """Import an example anew, so module-level state starts clean."""
    sys.modules.pop(name, None)
    return importlib.import_module(name)


async def test_quickstart_retries_and_dead_letters(transport: Transport) -> None:
    quickstart = fresh("examples.quickstart")
    async with transport.running(quickstart.broker):
        await quickstart.place_orders()
        await eventually(lambda: quickstart.attempts.get(3) == 4, timeout=20)
        [dead] = await transport.dead(quickstart.broker, "hare_demo.orders", 1)
    assert quickstart.attempts == {1: 1, 2: 3, 3: 4}
    assert dead.json() == {"id": 3, "broken": True}


@pytest.mark.rabbit
@pytest.mark.usefixtures("demo_entities")
def test_quickstart_runs_under_faststream_run() -> None:
    output, code = run_app_until(
        "examples.quickstart:app", lambda out: "order 2 processed after 3 attempt(s)" in out
    )
    assert "order 2 processed after 3 attempt(s)" in output, output
    assert "order 1 processed after 1 attempt(s)" in output
    assert code == 0, output


@pytest.mark.rabbit
@pytest.mark.usefixtures("demo_entities")
async def test_retries_example_dead_letters_then_replays() -> None:
    retries = fresh("examples.retries")
    async with retries.broker:
        await retries.broker.start()
        for n in range(5):
            await retries.broker.publish(
                {"payment": n}, exchange="hare_demo.payments_ex", routing_key="payment.requested"
            )
        await wait_depth("hare_demo.payments.dead", 5, timeout=20)
        assert await retries.replay_after_outage() == 5
        await eventually(lambda: len(retries.charged) == 5)
    assert sorted(p["payment"] for p in retries.charged) == [0, 1, 2, 3, 4]


async def test_testing_in_memory_example() -> None:
    example = fresh("examples.testing_in_memory")
    await example.test_invoice_without_email_is_dead_lettered()


async def test_telemetry_example_counts_in_memory() -> None:
    telemetry = fresh("examples.telemetry")
    async with TestRabbitBroker(telemetry.broker) as br:
        await br.publish({"to": "a@example.com"}, queue="hare_demo.emails")
    assert telemetry.counts == {"retried:hare_demo.emails": 1, "dead:hare_demo.emails": 1}
    await asyncio.sleep(0)
