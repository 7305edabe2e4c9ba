"""Stress: the auto-scaled pool and the named stream consumer under link cuts, many rounds.

Each round starts a broker behind a fault proxy, cuts the link while messages flow (and the
pool scales), then stops the broker. Over every round: no hang, every ``stop()`` within its
bound, lost = 0 by exact id accounting. ``scripts/stress.sh [N]`` runs N rounds of each
(50 by default); CI runs a few.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from faststream_hare import AutoScaling, HareBroker
from faststream_hare._internal import compat
from tests.faults.conftest import Account, dead_ids
from tests.faults.test_pool_cuts import FailOnce, proxied_broker
from tests.faults.test_pool_cuts import publish_ids as publish_to_queue
from tests.faults.test_stream_cuts import cut_stream_link, stream_broker
from tests.faults.test_stream_cuts import publish_ids as publish_to_stream
from tests.stress.conftest import runs
from tests.support.fault_proxy import FaultProxy
from tests.support.rabbit_admin import RabbitAdmin
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit

#: A stop waits for in-flight handlers (drain, 5 s) and copies (5 s): 20 s is its bound here.
STOP_BOUND_S = 20.0
MESSAGES = 80


async def bounded_stop(broker: HareBroker, stops: list[float]) -> None:
    started = time.monotonic()
    async with compat.timeout(STOP_BOUND_S):
        await broker.stop()
    stops.append(time.monotonic() - started)


class Reader:
    """A stream handler that records ids into the round's account."""

    def __init__(self, account: Account) -> None:
        self.account = account

    async def __call__(self, body: dict[str, str]) -> None:
        self.account.handle(body["id"])
        await asyncio.sleep(0.002)


async def pool_round(prefix: str, proxy: FaultProxy, stops: list[float]) -> tuple[int, int]:
    """One round; returns (lost, cuts)."""
    account = Account()
    queue = f"{prefix}.q"
    broker = proxied_broker(prefix, proxy)
    scaling = AutoScaling(
        min_consumers=1, max_consumers=3, messages_per_consumer=10, check_interval_ms=100
    )
    handler = FailOnce(account, pause_s=0.01)
    broker.subscriber(queue, auto_scaling=scaling, retry_limit=3, delay_in_ms=50)(handler)
    ids = [account.publish(f"{prefix}.{n}") for n in range(MESSAGES)]
    cuts = 0
    await broker.start()
    try:
        await publish_to_queue(queue, ids)
        while account.settled < len(ids):  # a cut every 0.3 s while messages remain
            await asyncio.sleep(0.3)
            proxy.cut()
            cuts += 1
            assert cuts < 200, "the pool stopped handling messages"
        proxy.cut()  # and one while stopping
        cuts += 1
    finally:
        await bounded_stop(broker, stops)
    account.dead_letter(await dead_ids(queue))
    return len(account.lost), cuts


async def stream_round(
    prefix: str, admin: RabbitAdmin, proxy: FaultProxy, closed: set[str], stops: list[float]
) -> tuple[int, int]:
    """One round; returns (lost, cuts)."""
    account = Account()
    queue, name = f"{prefix}.s", f"{prefix}-reader"
    broker = stream_broker(prefix, proxy)
    broker.subscriber(queue, stream=True, stream_offset="first", stream_consumer_name=name)(
        Reader(account)
    )
    ids = [account.publish(f"{prefix}.{n}") for n in range(MESSAGES)]
    await publish_to_stream(queue, ids[: MESSAGES // 2])
    await broker.start()
    try:
        await eventually(lambda: account.settled >= 1, timeout=30)
        await cut_stream_link(admin, proxy, f"{prefix}.stream.", closed)
        await publish_to_stream(queue, ids[MESSAGES // 2 :])
        await eventually(lambda: account.settled == len(ids), timeout=60)
        proxy.cut()  # and one while stopping
    finally:
        await bounded_stop(broker, stops)
    return len(account.lost), 2


async def test_auto_scaled_pool_under_cuts(prefix: str, fault_proxy: FaultProxy) -> None:
    stops: list[float] = []
    lost = cuts = 0
    for round_ in range(runs()):
        round_lost, round_cuts = await pool_round(f"{prefix}-{round_}", fault_proxy, stops)
        lost, cuts = lost + round_lost, cuts + round_cuts
        print(
            f"[stress] pool round {round_}: cuts={round_cuts} lost={round_lost} "
            f"stop_s={stops[-1]:.2f}"
        )
    print(
        f"[stress] auto-scaled pool: rounds={runs()} cuts={cuts} lost={lost} hangs=0 "
        f"stop_max_s={max(stops):.2f} stop_bound_s={STOP_BOUND_S:.0f}"
    )
    assert lost == 0


async def test_named_stream_consumer_under_cuts(
    prefix: str, admin: RabbitAdmin, stream_proxy: FaultProxy
) -> None:
    stops: list[float] = []
    lost = cuts = 0
    closed: set[str] = set()
    for round_ in range(runs()):
        round_lost, round_cuts = await stream_round(
            f"{prefix}-{round_}", admin, stream_proxy, closed, stops
        )
        lost, cuts = lost + round_lost, cuts + round_cuts
        print(f"[stress] stream round {round_}: lost={round_lost} stop_s={stops[-1]:.2f}")
    print(
        f"[stress] named stream consumer: rounds={runs()} cuts={cuts} lost={lost} hangs=0 "
        f"stop_max_s={max(stops):.2f} stop_bound_s={STOP_BOUND_S:.0f}"
    )
    assert lost == 0
