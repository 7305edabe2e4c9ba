"""The auto-scaler's pure decision: HareMq's target, plus an optional scale-down cooldown."""

from __future__ import annotations

import math

from faststream_hare.config.options import ResolvedAutoScaling


def target_size(config: ResolvedAutoScaling, depth: int) -> int:
    """HareMq's target: ``clamp(ceil(depth / messages_per_consumer), min, max)``."""
    wanted = math.ceil(max(depth, 0) / config.messages_per_consumer)
    return max(config.min_consumers, min(config.max_consumers, wanted))


class ScalePolicy:
    """Turns a depth sample into the pool size wanted now.

    Stateful only for the cooldown: a lower target must persist for ``scale_down_cooldown_ms``
    before the pool shrinks, so a queue that hovers at a boundary does not flap.
    """

    def __init__(self, config: ResolvedAutoScaling) -> None:
        self.config = config
        self._lower_since_ms: float | None = None

    def decide(self, current: int, depth: int | None, now_ms: float) -> int:
        """The size to scale to; ``depth=None`` (could not be read) keeps ``current``."""
        if depth is None:
            return current
        target = target_size(self.config, depth)
        if target >= current:
            self._lower_since_ms = None
            return target
        cooldown = self.config.scale_down_cooldown_ms
        if cooldown <= 0:
            return target
        if self._lower_since_ms is None:
            self._lower_since_ms = now_ms
        if now_ms - self._lower_since_ms >= cooldown:
            self._lower_since_ms = None
            return target
        return current


def initial_size(consumer_count: int, config: ResolvedAutoScaling | None) -> int:
    """Workers to start with: ``consumer_count``, kept inside ``[min, max]`` when auto-scaling."""
    if config is None:
        return consumer_count
    return max(config.min_consumers, min(config.max_consumers, consumer_count))
