"""``PublishResult``: what became of a ``publish_message`` call."""

from __future__ import annotations

from faststream_hare._internal.compat import StrEnum


class PublishResult(StrEnum):
    """What happened to a ``publish_message`` call; it never raises for these outcomes."""

    OK = "ok"
    DUPLICATE = "duplicate"
    NOT_CONNECTED = "not_connected"
    UNROUTABLE = "unroutable"
    ENCODING_FAILED = "encoding_failed"
