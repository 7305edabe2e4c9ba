"""Telling poison (a message no retry can fix) from an ordinary handler failure."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from faststream_hare._internal import faststream as _faststream


def is_poison(exc: Exception, subscriber: Any) -> bool:
    """A validation error raised before the handler ran (the body has the wrong shape).

    The same error raised inside the user's handler is an ordinary, retryable failure.
    """
    if not isinstance(exc, ValidationError):
        return False
    handler_codes = {
        getattr(function, "__code__", None)
        for function in _faststream.handler_functions(subscriber)
    }
    traceback = exc.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code in handler_codes:
            return False
        traceback = traceback.tb_next
    return True


class NoHandler(Exception):  # noqa: N818 - the name is the ``hare-exception`` header's value
    """No handler of the subscriber accepts the message (every ``filter=`` said no)."""
