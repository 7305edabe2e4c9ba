"""How ``publish_message`` turns a message into an AMQP body (HareMq's publisher rules).

A mapping becomes compact UTF-8 JSON (what Elixir's Jason writes, so HareMq services read it);
``bytes`` go out untouched and ``str`` as UTF-8. Anything else is refused *before* anything
is claimed or published, so a bad message never leaves a dedup entry behind (HareMq bug E7).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import NamedTuple

from faststream_hare.errors import EncodingFailedError

JSON_CONTENT_TYPE = "application/json"
TEXT_CONTENT_TYPE = "text/plain"


class EncodedBody(NamedTuple):
    """The wire body and its ``content_type`` (``None`` for raw bytes, as HareMq sends them)."""

    body: bytes
    content_type: str | None


def encode_body(message: object) -> EncodedBody:
    """Encode ``message`` for the wire; raise ``EncodingFailedError`` with the reason."""
    if isinstance(message, bytes):
        return EncodedBody(message, None)
    if isinstance(message, str):
        try:
            return EncodedBody(message.encode(), TEXT_CONTENT_TYPE)
        except UnicodeEncodeError as exc:
            msg = f"cannot encode the str as UTF-8: {exc}"
            raise EncodingFailedError(msg) from exc
    if isinstance(message, Mapping):
        return EncodedBody(_dumps(message, sort_keys=False), JSON_CONTENT_TYPE)
    msg = (
        f"cannot publish a {type(message).__name__}: publish_message takes a mapping "
        "(sent as JSON), bytes or str"
    )
    raise EncodingFailedError(msg)


def canonical_json(value: object) -> bytes:
    """Compact JSON with sorted keys: equal data always gives equal bytes (dedup keys)."""
    return _dumps(value, sort_keys=True)


def _dumps(value: object, *, sort_keys: bool) -> bytes:
    try:
        return json.dumps(
            value,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,  # NaN/Infinity are not JSON; other services could not read them
            sort_keys=sort_keys,
        ).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        msg = f"cannot encode the message as JSON: {exc}"
        raise EncodingFailedError(msg) from exc
