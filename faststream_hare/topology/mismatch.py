"""A broker's 406 ("inequivalent arg") turned into a ``HareTopologyError`` naming both values."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import aiormq.exceptions

from faststream_hare.errors import HareTopologyError


@dataclass(frozen=True)
class Mismatch:
    """What a 406 says: the argument that differs, the value found and the value sent."""

    argument: str
    found: str
    received: str


_INEQUIVALENT = re.compile(
    r"inequivalent arg '(?P<arg>[^']+)' for (?P<kind>queue|exchange) '(?P<name>[^']*)'"
    r".*?received (?P<received>.+?) but current is (?P<current>.+?)\s*$",
    re.DOTALL,
)
_VALUE = re.compile(r"(?:the value )?'(?P<value>[^']*)'")


def parse_mismatch(text: str) -> Mismatch | None:
    """The argument and values of a 406 message; ``None`` when it is not an argument mismatch."""
    match = _INEQUIVALENT.search(text)
    if match is None:
        return None
    return Mismatch(match["arg"], _clean(match["current"]), _clean(match["received"]))


class translate_406:  # noqa: N801 - used as a context manager, reads like a statement
    """Turn a broker 406 into ``HareTopologyError`` naming entity, argument and both values."""

    def __init__(self, kind: str, name: str, wanted: dict[str, Any]) -> None:
        self.kind, self.name, self.wanted = kind, name, wanted

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if not isinstance(exc, aiormq.exceptions.ChannelPreconditionFailed):
            return
        text = " ".join(str(a) for a in exc.args)
        mismatch = parse_mismatch(text)
        if mismatch is None:
            message = (
                f"RabbitMQ refused to declare {self.kind} '{self.name}' as hare wants it "
                f"({self.wanted}): {text}; delete it or change the hare options to match."
            )
            raise HareTopologyError(message, entity=self.name) from exc
        argument, found = mismatch.argument, mismatch.found
        wanted = self.wanted.get(argument, mismatch.received)
        message = (
            f"{self.kind.capitalize()} '{self.name}' already exists with {argument}={found!r}, "
            f"but hare declares {argument}={wanted!r}; delete the {self.kind} or change the "
            "hare option to match it."
        )
        raise HareTopologyError(
            message, entity=self.name, argument=argument, found=found, wanted=wanted
        ) from exc


def _clean(raw: str) -> str:
    """``the value '10000' of type 'long'`` → ``10000``; ``none`` stays ``none``."""
    match = _VALUE.search(raw)
    return match["value"] if match else raw.strip()
