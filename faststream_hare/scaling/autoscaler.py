"""The auto-scaler: every ``check_interval_ms`` it samples the depth and resizes the pool.

HareMq's loop, minus its bugs: depth is read on a private channel (E29), an unreadable depth
keeps the pool as it is instead of counting as 0 (E12), and a scale-down removes the highest
numbers first (E11).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

from faststream_hare._internal.masking import mask_text
from faststream_hare._internal.tasks import end_tasks
from faststream_hare.scaling.policy import ScalePolicy
from faststream_hare.telemetry import signals

if TYPE_CHECKING:
    from faststream_hare.config.options import ResolvedAutoScaling

logger = logging.getLogger("faststream_hare.scaling")


#: How long a stop waits for a resize in progress before cancelling it.
RESIZE_BOUND_S = 30.0


class Scalable(Protocol):
    """What the auto-scaler drives (the consumer pool)."""

    @property
    def size(self) -> int: ...

    async def scale_to(self, target: int) -> int: ...


class DepthSource(Protocol):
    """Where the depth comes from (``DepthSampler`` on the broker)."""

    async def sample(self) -> int | None: ...

    async def close(self) -> None: ...


class AutoScaler:
    """One per pooled subscriber; started and stopped with the pool."""

    def __init__(
        self,
        *,
        queue: str,
        pool: Scalable,
        sampler: DepthSource,
        config: ResolvedAutoScaling,
        sender: Any,
    ) -> None:
        self.queue = queue
        self.pool = pool
        self.sampler = sampler
        self.config = config
        self.policy = ScalePolicy(config)
        self.sender = sender
        self.checks = 0
        self.failed_checks = 0
        self.last_depth: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._resizing = False

    def start(self) -> None:
        """Schedule the first check one interval from now (as HareMq does)."""
        self._task = asyncio.create_task(self._loop(), name=f"hare-autoscaler-{self.queue}")

    async def stop(self) -> None:
        """Stop checking; a resize in progress is let finish, so no worker is half-removed."""
        self._stopping = True
        if self._task is not None:
            if self._resizing:  # let it finish (workers stop within their own bounds)
                await asyncio.wait({self._task}, timeout=RESIZE_BOUND_S)
            await end_tasks([self._task])
            self._task = None
        await self.sampler.close()

    async def _loop(self) -> None:
        interval_s = self.config.check_interval_ms / 1000
        while not self._stopping:
            await asyncio.sleep(interval_s)
            try:
                await self.check()
            except Exception as exc:  # never let one bad check stop the scaler
                logger.warning(
                    "Auto-scaler of queue '%s' failed a check (%s); trying again in %.1f s",
                    self.queue,
                    mask_text(repr(exc)),
                    interval_s,
                )

    async def check(self) -> None:
        """Sample once and resize the pool toward the policy's target."""
        self.checks += 1
        depth = await self.sampler.sample()
        self.last_depth = depth
        if depth is None:
            self.failed_checks += 1
        current = self.pool.size
        wanted = self.policy.decide(current, depth, time.monotonic() * 1000)
        signals.emit(
            signals.auto_scaler_checked,
            self.sender,
            {
                "depth": depth,
                "size": current,
                "target": wanted,
                "system_time": signals.system_time(),
            },
            {"queue": self.queue},
        )
        if wanted == current:
            return
        self._resizing = True
        try:
            reached = await self.pool.scale_to(wanted)
        finally:
            self._resizing = False
        if reached != current:
            logger.info(
                "Auto-scaler of queue '%s': %d -> %d consumers (depth %s)",
                self.queue,
                current,
                reached,
                depth,
            )
            signals.emit(
                signals.auto_scaler_scaled,
                self.sender,
                {"system_time": signals.system_time()},
                {"queue": self.queue, "from": current, "to": reached, "depth": depth},
            )
