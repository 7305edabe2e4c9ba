"""The broker's app restarted under load (``rabbitmqctl stop_app`` / ``start_app``).

The broker in use (tests/support/broker.py) is always started again in a ``finally``. Lost
must be 0; the app recovers by itself; the time from the broker accepting connections again to
the next handled message is printed.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time

import pytest

from faststream_hare import HareBroker, HareSettings
from tests.faults.accounting import message_ids, publish_ids
from tests.faults.conftest import Account
from tests.support.broker import cli
from tests.support.rabbit_admin import RabbitAdmin
from tests.support.waiting import eventually

#: Up to 120 s for the restart (rabbitmqctl's own bound) and 120 s for the rest to be handled:
#: a slow recovery shows as its printed time, a stuck one as the failure below with its state.
pytestmark = [pytest.mark.rabbit, pytest.mark.timeout(300)]

COUNT = 1_000


def _rabbitmqctl(*args: str, timeout: float = 120) -> None:
    subprocess.run([cli("rabbitmqctl"), *args], check=True, capture_output=True, timeout=timeout)


def _ensure_running() -> None:
    subprocess.run([cli("rabbitmqctl"), "start_app"], capture_output=True, timeout=120, check=False)
    _rabbitmqctl("await_startup", "--timeout", "120")


async def _restart_app(pause_s: float) -> float:
    """Stop the broker's app, wait, start it; returns when it accepts connections again."""
    try:
        await asyncio.to_thread(_rabbitmqctl, "stop_app")
        await asyncio.sleep(pause_s)
    finally:
        await asyncio.to_thread(_rabbitmqctl, "start_app")
        await asyncio.to_thread(_rabbitmqctl, "await_startup", "--timeout", "120")
    return time.monotonic()


async def test_broker_restart_during_consumption_with_retries(
    prefix: str, broker_url: str, account: Account
) -> None:
    queue = f"{prefix}.restart"
    ids = [account.publish(f"r{n}") for n in range(COUNT)]
    fail_once = {i for n, i in enumerate(ids) if n % 5 == 0}
    attempts: dict[str, int] = {}
    handled_at: list[float] = []
    broker = HareBroker(broker_url, settings=HareSettings(reconnect_interval_ms=2_000), logger=None)

    @broker.subscriber(queue, prefetch_count=10, retry_limit=5, delay_cascade_in_ms=[100, 300])
    async def handle(body: dict[str, str]) -> None:
        message_id = body["id"]
        attempts[message_id] = attempts.get(message_id, 0) + 1
        await asyncio.sleep(0.05)  # 10 at a time: about 5 s in all, the restart lands mid-run
        if message_id in fail_once and attempts[message_id] == 1:
            raise RuntimeError("fails once")
        account.handle(message_id)
        handled_at.append(time.monotonic())

    back_at = 0.0
    try:
        async with broker:
            await broker.start()
            await publish_ids(queue, {i: json.dumps({"id": i}).encode() for i in ids})
            await eventually(lambda: len(account.handled) >= COUNT // 5, timeout=60)
            back_at = await _restart_app(pause_s=2.0)
            try:
                await eventually(lambda: len(account.handled) == COUNT, timeout=120)
            except AssertionError:
                info = await asyncio.to_thread(RabbitAdmin().queue, queue) or {}
                state = {k: info.get(k) for k in ("messages_ready", "messages_unacknowledged")}
                state["consumers"] = info.get("consumers")
                raise AssertionError(
                    f"handled {len(account.handled)}/{COUNT} 120 s after the restart; "
                    f"the broker's view of {queue}: {state}; the app's connection closed: "
                    f"{broker._connection is None or broker._connection.is_closed}"
                ) from None
            account.dead.update(await message_ids(f"{queue}.dead"))
    finally:
        # whatever happened, the shared broker must be running for everyone else
        await asyncio.to_thread(_ensure_running)
    later = [t for t in handled_at if t > back_at]
    recovery = (min(later) - back_at) if later else float("nan")
    account.report("broker restart", recovery_s=recovery)
    assert account.lost == []
    assert not account.dead
