"""The idempotency key of a delivery: what makes two deliveries "the same message".

Built with the dedup keys' hash and canonical JSON (``dedup/keys.py``), namespaced by queue,
so two subscribers never share keys. Pure functions, tested without a broker or a store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from faststream_hare.dedup.keys import dedup_payload, hash_key


def queue_namespace(queue: str) -> bytes:
    """The namespace of one queue's keys."""
    return f"queue:{queue}".encode()


def idempotency_key(
    queue: str, *, message_id: str | None, body: bytes, keys: Sequence[str] | None
) -> str:
    """The key of a delivery to ``queue``.

    Without ``keys`` it is the ``message_id`` (a message without one falls back to its body);
    with ``keys`` it is the canonical JSON of those fields of a JSON object body (any other
    body is taken as it is, like ``Unique``'s keys).
    """
    if keys:
        payload = b"keys:" + dedup_payload(_json_object_or_bytes(body), keys)
    elif message_id:
        payload = b"id:" + message_id.encode(errors="surrogatepass")
    else:
        payload = b"body:" + body
    return hash_key(queue_namespace(queue), payload)


def _json_object_or_bytes(body: bytes) -> object:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body
    return value if isinstance(value, Mapping) else body


def key_description(*, message_id: str | None, body: bytes, keys: Sequence[str] | None) -> str:
    """What matched, for the skip's log line: ``order_id=42``, or ``message id``."""
    if keys:
        value = _json_object_or_bytes(body)
        if not isinstance(value, Mapping):
            return "body (not a JSON object)"
        return ", ".join(f"{key}={_short(value.get(key))}" for key in keys)
    if message_id:
        return "message id"
    return "body (it has no message id)"


def _short(value: object, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
