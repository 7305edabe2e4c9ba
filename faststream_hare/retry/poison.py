"""Telling poison (a message no retry can fix) from an ordinary handler failure."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faststream
from pydantic import ValidationError

from faststream_hare._internal import faststream as _faststream

_FASTSTREAM_DIR = str(Path(faststream.__file__).parent)


def is_poison(exc: Exception, subscriber: Any) -> bool:
    """A validation error raised before the handler ran (the body has the wrong shape).

    FastStream validates with pydantic; under its FastAPI integration FastAPI validates and
    raises ``RequestValidationError``. The same errors raised inside the user's own code are
    ordinary, retryable failures.
    """
    if not _is_validation_error(exc):
        return False
    handler_codes = set(_user_codes(subscriber))
    traceback = exc.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code in handler_codes:
            return False
        traceback = traceback.tb_next
    return True


def _is_validation_error(exc: Exception) -> bool:
    if isinstance(exc, ValidationError):
        return True
    fastapi_exceptions = sys.modules.get("fastapi.exceptions")  # only if the app uses FastAPI
    request_error = getattr(fastapi_exceptions, "RequestValidationError", None)
    return request_error is not None and isinstance(exc, request_error)


def _user_codes(subscriber: Any) -> Iterator[Any]:
    """The code objects of the user's handlers, through the wrappers FastStream puts around them.

    Under FastAPI the declared call is FastStream's own wrapper (it validates, then calls the
    user's function): its frame is not the user's code.
    """
    for function in _faststream.handler_functions(subscriber):
        while function is not None:
            code = getattr(function, "__code__", None)
            if code is not None and not code.co_filename.startswith(_FASTSTREAM_DIR):
                yield code
            function = getattr(function, "__wrapped__", None)
