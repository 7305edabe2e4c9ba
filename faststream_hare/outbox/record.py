"""An outbox row as ``outbox.add`` stores it: the message encoded exactly as ``publish_message``
would send it, so everything that can fail about a message fails in the app's transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from faststream_hare.contract.encoding import encode_body
from faststream_hare.errors import EncodingFailedError, HareConfigError


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """The columns of one outbox row (``headers`` as JSON text, ``None`` without headers)."""

    key: str | None
    exchange: str
    routing_key: str
    message_id: str
    content_type: str | None
    headers: str | None
    body: bytes


def build_record(
    message: object,
    *,
    exchange: str,
    routing_key: str,
    message_id: str | None,
    key: str | None,
    headers: Mapping[str, object] | None,
) -> OutboxRecord:
    """Encode ``message`` and check the options; raise before anything is written.

    ``EncodingFailedError`` for a body or headers that cannot be sent, ``HareConfigError``
    for a wrong option.
    """
    for option, given in (("exchange", exchange), ("routing_key", routing_key)):
        if not isinstance(given, str):
            msg = f"{option} must be a str, got {type(given).__name__}."
            raise HareConfigError(msg)
    for option, optional in (("message_id", message_id), ("key", key)):
        if optional is not None and (not isinstance(optional, str) or not optional):
            msg = f"{option} must be a non-empty str or None, got {optional!r}."
            raise HareConfigError(msg)
    encoded = encode_body(message)
    return OutboxRecord(
        key=key,
        exchange=exchange,
        routing_key=routing_key,
        message_id=message_id or uuid.uuid4().hex,
        content_type=encoded.content_type,
        headers=_headers_json(headers),
        body=encoded.body,
    )


def _headers_json(headers: Mapping[str, object] | None) -> str | None:
    if headers is None:
        return None
    if not isinstance(headers, Mapping) or not all(isinstance(k, str) for k in headers):
        msg = "headers must be a mapping with str keys"
        raise EncodingFailedError(msg)
    try:
        return json.dumps(dict(headers), separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        msg = f"cannot store the headers (they must be JSON values): {exc}"
        raise EncodingFailedError(msg) from exc
