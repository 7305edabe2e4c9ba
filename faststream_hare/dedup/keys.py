"""The dedup key: a hash of what makes two messages "the same" for one destination.

Pure functions, so the rules are tested without a broker or a store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from faststream_hare.contract.encoding import (
    JSON_CONTENT_TYPE,
    EncodedBody,
    canonical_json,
    encode_body,
)
from faststream_hare.errors import EncodingFailedError


def destination_namespace(exchange: str, routing_key: str) -> bytes:
    """Unambiguous bytes naming a destination; two destinations never share keys."""
    return f"{len(exchange)}:{exchange}|{routing_key}".encode()


def dedup_payload(message: object, keys: Sequence[str]) -> bytes:
    """What is hashed: the canonical JSON of a mapping (only ``keys`` when given), or the
    bytes of ``bytes``/``str`` (``keys`` do not apply to them).

    As in HareMq, a key missing from the message is left out, so messages lacking every key
    share one dedup key.
    """
    if isinstance(message, bytes):
        return message
    if isinstance(message, str):
        return message.encode(errors="surrogatepass")
    if isinstance(message, Mapping):
        return canonical_json({k: message[k] for k in keys if k in message} if keys else message)
    msg = f"cannot build a dedup key for a {type(message).__name__}"
    raise EncodingFailedError(msg)


def hash_key(namespace: bytes, payload: bytes) -> str:
    """128-bit BLAKE2b of the destination and the payload, as hex."""
    digest = hashlib.blake2b(namespace, digest_size=16)
    digest.update(payload)
    return digest.hexdigest()


def dedup_key(message: object, keys: Sequence[str], namespace: bytes) -> str:
    """The dedup key of ``message`` for the destination ``namespace``."""
    return hash_key(namespace, dedup_payload(message, keys))


def encode_with_key(
    message: object, keys: Sequence[str], namespace: bytes
) -> tuple[EncodedBody, str]:
    """Encode ``message`` and build its key in one pass: when the whole mapping is the key,
    the body *is* the canonical JSON (sorted keys), so it is serialised once."""
    if isinstance(message, Mapping) and not keys:
        body = canonical_json(message)
        return EncodedBody(body, JSON_CONTENT_TYPE), hash_key(namespace, body)
    return encode_body(message), dedup_key(message, keys, namespace)
