"""The auto-scaler's pure decisions (HareMq's table, cooldown, errors keep the size)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from faststream_hare import AutoScaling, signals
from faststream_hare.config.options import ResolvedAutoScaling
from faststream_hare.config.settings import AutoScalerSettings
from faststream_hare.scaling.autoscaler import AutoScaler
from faststream_hare.scaling.policy import ScalePolicy, initial_size, target_size
from faststream_hare.scaling.pool import lock_queue_name, next_free_number, worker_name


def config(**overrides: int) -> ResolvedAutoScaling:
    values = {
        "min_consumers": 1,
        "max_consumers": 5,
        "messages_per_consumer": 10,
        "check_interval_ms": 100,
        **overrides,
    }
    return ResolvedAutoScaling(**values)


@pytest.mark.parametrize(
    ("depth", "target"), [(0, 1), (5, 1), (10, 1), (15, 2), (50, 5), (41, 5), (40, 4)]
)
def test_target_matches_haremq_table(depth: int, target: int) -> None:
    assert target_size(config(), depth) == target


def test_target_with_100_per_consumer() -> None:
    assert target_size(config(messages_per_consumer=100, max_consumers=20), 350) == 4


def test_unset_fields_come_from_settings() -> None:
    resolved = AutoScaling(max_consumers=5).resolve(AutoScalerSettings(messages_per_consumer=7))
    assert (resolved.min_consumers, resolved.max_consumers) == (1, 5)
    assert (resolved.messages_per_consumer, resolved.check_interval_ms) == (7, 5_000)


def test_unreadable_depth_keeps_the_current_size() -> None:
    policy = ScalePolicy(config())
    assert policy.decide(current=4, depth=None, now_ms=0) == 4
    assert policy.decide(current=4, depth=0, now_ms=1) == 1


def test_scale_up_is_immediate_and_scale_down_waits_for_the_cooldown() -> None:
    policy = ScalePolicy(config(scale_down_cooldown_ms=1_000))
    assert policy.decide(current=1, depth=50, now_ms=0) == 5
    assert policy.decide(current=5, depth=0, now_ms=100) == 5  # lower since t=100
    assert policy.decide(current=5, depth=12, now_ms=600) == 5  # still lower (2)
    assert policy.decide(current=5, depth=12, now_ms=1_100) == 2  # lower for 1 s: go
    assert policy.decide(current=2, depth=0, now_ms=1_200) == 2  # a new cooldown starts


def test_a_higher_target_resets_the_cooldown() -> None:
    policy = ScalePolicy(config(scale_down_cooldown_ms=1_000))
    assert policy.decide(current=3, depth=0, now_ms=0) == 3
    assert policy.decide(current=3, depth=30, now_ms=500) == 3
    assert policy.decide(current=3, depth=0, now_ms=1_200) == 3
    assert policy.decide(current=3, depth=0, now_ms=2_200) == 1


def test_initial_size_is_consumer_count_within_bounds() -> None:
    assert initial_size(3, None) == 3
    assert initial_size(1, config(min_consumers=2)) == 2
    assert initial_size(9, config()) == 5
    assert initial_size(3, config()) == 3


def test_names() -> None:
    assert worker_name("jobs", 3) == "jobs.W3"
    assert lock_queue_name("jobs", 1) == "hare.lock.jobs.W1"
    assert next_free_number(set()) == 1
    assert next_free_number({1, 2, 3}) == 4
    assert next_free_number({1, 3}) == 2


class FakePool:
    def __init__(self, size: int) -> None:
        self.size = size
        self.calls: list[int] = []

    async def scale_to(self, target: int) -> int:
        self.calls.append(target)
        self.size = target
        return target


class FakeSampler:
    def __init__(self, *depths: int | None) -> None:
        self.depths = list(depths)

    async def sample(self) -> int | None:
        return self.depths.pop(0)

    async def close(self) -> None:
        return None


async def test_check_scales_and_signals_only_on_a_change() -> None:
    pool = FakePool(1)
    events: list[dict[str, Any]] = []

    def on_scaled(sender: object, **payload: Any) -> None:
        events.append(payload["metadata"])

    scaler = AutoScaler(
        queue="jobs",
        pool=pool,
        sampler=FakeSampler(45, None, 45, 3),
        config=config(),
        sender="broker",
    )
    signals.auto_scaler_scaled.connect(on_scaled)
    try:
        for _ in range(4):
            await scaler.check()
    finally:
        signals.auto_scaler_scaled.disconnect(on_scaled)
    assert pool.calls == [5, 1]
    assert (scaler.checks, scaler.failed_checks) == (4, 1)
    assert events == [
        {"queue": "jobs", "from": 1, "to": 5, "depth": 45},
        {"queue": "jobs", "from": 5, "to": 1, "depth": 3},
    ]


class SlowPool(FakePool):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def scale_to(self, target: int) -> int:
        self.entered.set()
        await self.release.wait()
        return await super().scale_to(target)


async def test_stop_lets_a_resize_in_progress_finish() -> None:
    pool = SlowPool(1)
    scaler = AutoScaler(
        queue="jobs",
        pool=pool,
        sampler=FakeSampler(45, 45),
        config=config(check_interval_ms=1),
        sender="broker",
    )
    scaler.start()
    await asyncio.wait_for(pool.entered.wait(), 5)
    stopping = asyncio.create_task(scaler.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()  # waits for the resize instead of cutting it in half
    pool.release.set()
    await asyncio.wait_for(stopping, 5)
    assert pool.size == 5
    assert scaler.checks == 1


async def test_stop_while_waiting_is_immediate() -> None:
    scaler = AutoScaler(
        queue="jobs",
        pool=FakePool(1),
        sampler=FakeSampler(),
        config=config(check_interval_ms=60_000),
        sender="broker",
    )
    scaler.start()
    await asyncio.wait_for(scaler.stop(), 1)
    assert scaler.checks == 0
