"""The option objects users pass to hare: ``Unique``, ``AutoScaling``, ``Idempotency``, ``backoff``.

Each checks its values when it is built (at decoration time) and raises ``HareConfigError``
with one sentence that names the option and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from faststream_hare.errors import HareConfigError

if TYPE_CHECKING:
    from faststream_hare.config.settings import AutoScalerSettings
    from faststream_hare.dedup.store import DedupStore
    from faststream_hare.idempotency.store import IdempotencyStore


def fail(message: str) -> NoReturn:
    """Raise the one-sentence ``HareConfigError`` every option check ends in."""
    raise HareConfigError(message)


def check_int(option: str, value: object, *, minimum: int, fix: str) -> int:
    """``value`` as an int >= ``minimum`` (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        fail(f"{option} must be an integer, got {value!r}; {fix}.")
    if value < minimum:
        fail(f"{option} must be >= {minimum}, got {value}; {fix}.")
    return value


@dataclass(frozen=True, kw_only=True)
class Unique:
    """Deduplicate a hare publisher's messages for ``period_ms`` (``None``: forever).

    ``keys`` limits the dedup key to those fields of a mapping message; ``store`` is a Redis
    URL (``"redis://..."``) or a ``DedupStore``; ``None`` uses the broker's store.
    """

    period_ms: int | None = None
    keys: Sequence[str] = ()
    store: str | DedupStore | None = None

    def __post_init__(self) -> None:
        if self.period_ms is not None:
            check_int(
                "Unique.period_ms",
                self.period_ms,
                minimum=1,
                fix="pass a positive number of milliseconds, or None to deduplicate forever",
            )
        if isinstance(self.keys, str) or not all(isinstance(k, str) for k in self.keys):
            fail(
                f"Unique.keys must be a list of field names, got {self.keys!r}; "
                'write keys=["order_id"].'
            )
        object.__setattr__(self, "keys", tuple(self.keys))


@dataclass(frozen=True)
class Idempotency:
    """Run a hare subscriber's handler once per message, across redeliveries and processes.

    The key is the ``message_id`` (or the canonical JSON of the body's ``keys``), namespaced by
    queue. A success is remembered for ``period_ms``; while a handler runs, the key is leased
    for ``lease_ms`` so a crashed process never blocks it for longer. ``store`` is a Redis URL
    or an ``IdempotencyStore``; ``None`` uses ``settings.dedup_url`` or the broker's memory.
    """

    period_ms: int
    keys: Sequence[str] | None = None
    store: str | IdempotencyStore | None = None
    lease_ms: int = 60_000

    def __post_init__(self) -> None:
        check_int(
            "Idempotency.period_ms",
            self.period_ms,
            minimum=1,
            fix="pass how long a handled message is remembered, e.g. period_ms=86_400_000",
        )
        check_int(
            "Idempotency.lease_ms",
            self.lease_ms,
            minimum=1,
            fix="pass the longest time a handler may run, e.g. lease_ms=60_000",
        )
        keys = self.keys
        if keys is not None and (
            isinstance(keys, str) or not all(isinstance(k, str) and k for k in keys) or not keys
        ):
            fail(
                f"Idempotency.keys must be a non-empty list of field names, got {keys!r}; "
                'write keys=["order_id"] or leave it out to use the message_id.'
            )
        object.__setattr__(self, "keys", None if keys is None else tuple(keys))


def backoff(
    first_ms: int, factor: float = 2, max_ms: int | None = None, steps: int | None = None
) -> tuple[int, ...]:
    """An exponential ``delay_cascade_in_ms``: ``min(first_ms * factor**i, max_ms)`` per step.

    ``backoff(1_000, 2, 5_000, 4) == (1_000, 2_000, 4_000, 5_000)``; repeated values share one
    delay queue, and the last one repeats for retries beyond ``steps``.
    """
    check_int("backoff first_ms", first_ms, minimum=1, fix="pass the first delay in ms")
    if steps is None:
        fail("backoff needs steps, the number of delays; write backoff(1_000, steps=5).")
    check_int("backoff steps", steps, minimum=1, fix="pass how many delays to build, e.g. 5")
    if isinstance(factor, bool) or not isinstance(factor, int | float) or not factor >= 1:
        fail(f"backoff factor must be a number >= 1, got {factor!r}; write factor=2.")
    if max_ms is not None:
        check_int("backoff max_ms", max_ms, minimum=first_ms, fix="use max_ms >= first_ms")
    values: list[int] = []
    for i in range(steps):
        value = first_ms * factor**i
        if max_ms is not None and value >= max_ms:
            values.extend([max_ms] * (steps - i))  # every later step is capped too
            break
        if isinstance(value, float) and not math.isfinite(value):
            fail(f"backoff grows beyond any delay after {i} steps; set max_ms, e.g. 3_600_000.")
        values.append(round(value))
    return tuple(values)


@dataclass(frozen=True, kw_only=True)
class AutoScaling:
    """Scale a subscriber's consumer pool from its queue depth.

    Unset fields take ``HareSettings.auto_scaler`` defaults when the broker starts.
    """

    min_consumers: int | None = None
    max_consumers: int | None = None
    messages_per_consumer: int | None = None
    check_interval_ms: int | None = None
    scale_down_cooldown_ms: int = 0

    def __post_init__(self) -> None:
        for name, minimum in (
            ("min_consumers", 0),
            ("max_consumers", 1),
            ("messages_per_consumer", 1),
            ("check_interval_ms", 1),
            ("scale_down_cooldown_ms", 0),
        ):
            value = getattr(self, name)
            if value is not None:
                check_int(
                    f"AutoScaling.{name}",
                    value,
                    minimum=minimum,
                    fix=f"use a value >= {minimum}",
                )
        low = 1 if self.min_consumers is None else self.min_consumers
        high = 20 if self.max_consumers is None else self.max_consumers
        if low > high:
            fail(
                f"AutoScaling.min_consumers ({low}) is above max_consumers ({high}); "
                "make min_consumers <= max_consumers."
            )

    def resolve(self, defaults: AutoScalerSettings) -> ResolvedAutoScaling:
        """Fill unset fields from the settings and check the result again."""
        resolved = ResolvedAutoScaling(
            min_consumers=_pick(self.min_consumers, defaults.min_consumers),
            max_consumers=_pick(self.max_consumers, defaults.max_consumers),
            messages_per_consumer=_pick(self.messages_per_consumer, defaults.messages_per_consumer),
            check_interval_ms=_pick(self.check_interval_ms, defaults.check_interval_ms),
            scale_down_cooldown_ms=self.scale_down_cooldown_ms,
        )
        if resolved.min_consumers > resolved.max_consumers:
            fail(
                f"AutoScaling.min_consumers ({resolved.min_consumers}) is above "
                f"max_consumers ({resolved.max_consumers}) once settings are applied; "
                "make min_consumers <= max_consumers."
            )
        return resolved


@dataclass(frozen=True, kw_only=True)
class ResolvedAutoScaling:
    """``AutoScaling`` with every field known."""

    min_consumers: int
    max_consumers: int
    messages_per_consumer: int
    check_interval_ms: int
    scale_down_cooldown_ms: int = 0


def _pick(value: int | None, default: int) -> int:
    return default if value is None else value
