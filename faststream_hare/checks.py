"""The two helpers every option check uses: one sentence, naming the option and the fix."""

from __future__ import annotations

from typing import NoReturn

from faststream_hare.errors import HareConfigError


def fail(message: str) -> NoReturn:
    """Raise the one-sentence ``HareConfigError``."""
    raise HareConfigError(message)


def check_int(option: str, value: object, *, minimum: int, fix: str) -> int:
    """``value`` as an int >= ``minimum`` (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        fail(f"{option} must be an integer, got {value!r}; {fix}.")
    if value < minimum:
        fail(f"{option} must be >= {minimum}, got {value}; {fix}.")
    return value
