"""Hare publishers: ``publish_message`` with a ``PublishResult`` and optional deduplication."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from faststream.rabbit.publisher.usecase import RabbitPublisher

from faststream_hare.errors import HareNotImplementedError

if TYPE_CHECKING:
    from faststream_hare.options import Unique


class PublishResult(StrEnum):
    """What happened to a ``publish_message`` call; it never raises for these outcomes."""

    OK = "ok"
    DUPLICATE = "duplicate"
    NOT_CONNECTED = "not_connected"
    UNROUTABLE = "unroutable"
    ENCODING_FAILED = "encoding_failed"


class HarePublisher(RabbitPublisher):
    """A FastStream ``RabbitPublisher`` with ``publish_message`` (HareMq's publisher API)."""

    unique: Unique | None = None

    async def publish_message(self, message: Any) -> PublishResult:
        """Encode, (dedupe,) publish with confirms and report the outcome."""
        msg = "publish_message is not implemented yet (issue: hare publishers)."
        raise HareNotImplementedError(msg)
