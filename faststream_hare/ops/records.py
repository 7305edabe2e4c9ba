"""Dead letters as JSON records (``hare dead export``, ``--json``) and as readable bodies."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from faststream_hare.ops.selection import DeadGroup, DeadLetter


def jsonable(value: Any) -> Any:
    """AMQP header/property values in JSON terms (bytes as text when UTF-8, else base64)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(raw).decode("ascii")}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    return str(value)


def body_fields(body: bytes) -> dict[str, str]:
    """``{"body": text}`` when the body is UTF-8, else ``{"body_base64": ...}``."""
    try:
        return {"body": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"body_base64": base64.b64encode(body).decode("ascii")}


def letter_record(letter: DeadLetter) -> dict[str, Any]:
    """One line of ``hare dead export``: position, ids, reasons, headers, properties, body."""
    record: dict[str, Any] = {
        "position": letter.position,
        "fingerprint": letter.fingerprint,
        "message_id": letter.message_id,
        "exception": letter.exception,
        "error": letter.error,
        "retries": letter.retries,
        "retry_count": letter.retry_count,  # the header's raw value
        "headers": jsonable(letter.headers),
        "properties": jsonable(letter.properties),
    }
    record.update(body_fields(letter.body))
    return record


def group_record(group: DeadGroup) -> dict[str, Any]:
    """A group in ``--json`` output."""
    return {
        "key": group.key,
        "count": group.count,
        "first_position": group.first_position,
        "last_position": group.last_position,
        "first_seen": jsonable(group.first_seen),
        "last_seen": jsonable(group.last_seen),
        "sample_error": group.sample_error,
    }


def pretty_body(letter: DeadLetter) -> str:
    """The body for people: JSON pretty-printed, text as is, binary as base64."""
    fields = body_fields(letter.body)
    text = fields.get("body")
    if text is None:
        return f"(binary, base64) {fields['body_base64']}"
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False, sort_keys=True)
    except ValueError:
        return text


def preview(letter: DeadLetter, width: int = 60) -> str:
    """The start of the body on one line."""
    text = body_fields(letter.body).get("body", "(binary)").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"
