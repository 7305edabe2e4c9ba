"""Decode the AMQP 1.0 messages that RabbitMQ stores in a stream.

RabbitMQ keeps every stream entry as an AMQP 1.0 message (an AMQP 0-9-1 publish is converted on
the way in). rstream's generic decoder builds two message objects per entry; a stream consumer
decodes every message it reads, so this module reads the sections it needs straight into plain
Python values: strings and symbols as ``str``, binaries as ``bytes``, timestamps as UTC
``datetime`` (as aio-pika gives them), lists, maps and arrays as ``list``/``dict``, described
values as their value. It follows the type encodings of the AMQP 1.0 specification (part 1,
section 1.6).
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from faststream_hare._internal.compat import UTC
from faststream_hare.errors import AmqpDecodeError

#: Positions in the header section (AMQP 1.0 part 3, section 3.2.1).
DURABLE, PRIORITY, TTL = 0, 1, 2
#: Positions in the properties section (AMQP 1.0 part 3, section 3.2.4).
MESSAGE_ID, USER_ID, REPLY_TO, CORRELATION_ID = 0, 1, 4, 5
CONTENT_TYPE, CONTENT_ENCODING, CREATION_TIME, GROUP_ID = 6, 7, 9, 10
PROPERTY_COUNT = 13

_HEADER, _DATA, _SEQUENCE, _VALUE = 0x70, 0x75, 0x76, 0x77
_ANNOTATIONS, _PROPERTIES, _APPLICATION_PROPERTIES = 0x72, 0x73, 0x74
_NO_VALUE: Any = object()
_ANNOTATIONS_SEEN: dict[bytes, dict[Any, Any]] = {}
_ANNOTATIONS_SEEN_MAX = 256
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INT64 = struct.Struct(">q").unpack_from


@dataclass(slots=True)
class Sections:
    """The parts of a message a consumer reads (absent sections are empty).

    ``annotations`` may be shared by messages with identical annotations: treat it as read-only.
    """

    header: list[Any] = field(default_factory=list)
    annotations: dict[Any, Any] = field(default_factory=dict)
    properties: list[Any] = field(default_factory=list)
    application_properties: dict[Any, Any] = field(default_factory=dict)
    data: bytes | None = None
    value: Any = _NO_VALUE

    @property
    def has_value(self) -> bool:
        """True when the body is an ``amqp-value`` or ``amqp-sequence`` section."""
        return self.value is not _NO_VALUE

    def property(self, index: int) -> Any:
        """A field of the properties section by position (``None`` when absent)."""
        return self.properties[index] if index < len(self.properties) else None

    def header_field(self, index: int) -> Any:
        """A field of the header section by position (``None`` when absent)."""
        return self.header[index] if index < len(self.header) else None


def decode_message(raw: bytes) -> Sections:
    """Split ``raw`` into its sections; raises ``AmqpDecodeError`` on malformed input."""
    buf = bytes(raw)
    sections = Sections()
    pos, end = 0, len(buf)
    try:
        while pos < end:
            if buf[pos] != 0x00:
                msg = f"expected a described section at byte {pos}"
                raise AmqpDecodeError(msg)
            if buf[pos + 1] == 0x53:  # the usual small-ulong descriptor
                descriptor, pos = buf[pos + 2], pos + 3
            else:
                descriptor, pos = _read(buf, pos + 1)
            if descriptor == _ANNOTATIONS and buf[pos] == 0xC1:
                value, pos = _annotations(buf, pos)
            else:
                value, pos = _read(buf, pos)
            _store(sections, descriptor, value)
    except AmqpDecodeError:
        raise
    except (IndexError, KeyError, struct.error, ValueError) as exc:
        msg = f"malformed AMQP 1.0 message: {type(exc).__name__} at byte {pos}"
        raise AmqpDecodeError(msg) from exc
    if pos != end:  # a length ran past the end: slices were silently short
        msg = f"truncated AMQP 1.0 message: {end} bytes, {pos} announced"
        raise AmqpDecodeError(msg)
    return sections


def _annotations(buf: bytes, pos: int) -> tuple[dict[Any, Any], int]:
    """A small annotations map, memoised: messages of one route carry identical ones."""
    stop = pos + 2 + buf[pos + 1]
    key = buf[pos:stop]
    cached = _ANNOTATIONS_SEEN.get(key)
    if cached is not None:
        return cached, stop
    value, pos = _read(buf, pos)
    if len(_ANNOTATIONS_SEEN) >= _ANNOTATIONS_SEEN_MAX:
        _ANNOTATIONS_SEEN.clear()
    _ANNOTATIONS_SEEN[key] = value
    return value, pos


def _store(sections: Sections, descriptor: Any, value: Any) -> None:
    if descriptor == _DATA:
        sections.data = value if sections.data is None else sections.data + value
    elif descriptor == _ANNOTATIONS:
        sections.annotations = value or {}
    elif descriptor == _HEADER:
        sections.header = value or []
    elif descriptor == _PROPERTIES:
        sections.properties = value or []
    elif descriptor == _APPLICATION_PROPERTIES:
        sections.application_properties = value or {}
    elif descriptor == _VALUE:
        sections.value = value
    elif descriptor == _SEQUENCE:
        sections.value = [*sections.value, *value] if sections.has_value else list(value)
    # delivery annotations and the footer carry nothing a consumer reads


def _read(buf: bytes, pos: int) -> tuple[Any, int]:
    """Decode the value whose constructor is at ``pos``; returns it and the next position."""
    code = buf[pos]
    if code == 0x00:  # a described value: skip the descriptor, keep the value
        _, pos = _read(buf, pos + 1)
        return _read(buf, pos)
    return _DECODERS[code](buf, pos + 1)


# Each decoder gets the position right after the constructor byte.
_Decoder = Callable[[bytes, int], tuple[Any, int]]


def _fixed(fmt: str) -> _Decoder:
    unpack = struct.Struct(fmt).unpack_from
    size = struct.calcsize(fmt)

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        return unpack(buf, pos)[0], pos + size

    return decode


def _constant(value: Any) -> _Decoder:
    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        return value, pos

    return decode


def _raw(size: int) -> _Decoder:
    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        return buf[pos : pos + size], pos + size

    return decode


def _variable(width: int, convert: Callable[[bytes], Any]) -> _Decoder:
    length = _fixed(">B" if width == 1 else ">I")

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        size, pos = length(buf, pos)
        return convert(buf[pos : pos + size]), pos + size

    return decode


def _items(buf: bytes, pos: int, count: int) -> tuple[list[Any], int]:
    """``count`` consecutive values; the common small types are decoded inline (hot path)."""
    items: list[Any] = []
    append = items.append
    for _ in range(count):
        code = buf[pos]
        if code in (0xA1, 0xA3):  # str8, sym8
            start = pos + 2
            pos = start + buf[pos + 1]
            append(buf[start:pos].decode())
        elif code == 0x40:  # null
            append(None)
            pos += 1
        elif code in (0x50, 0x52, 0x53):  # ubyte, smalluint, smallulong
            append(buf[pos + 1])
            pos += 2
        elif code == 0xA0:  # vbin8
            start = pos + 2
            pos = start + buf[pos + 1]
            append(buf[start:pos])
        else:
            item, pos = _read(buf, pos)
            append(item)
    return items, pos


def _compound(width: int, as_map: bool) -> _Decoder:
    unpack = struct.Struct(">BB" if width == 1 else ">II").unpack_from

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        _size, count = unpack(buf, pos)
        items, pos = _items(buf, pos + 2 * width, count)
        if as_map:
            return dict(zip(items[::2], items[1::2], strict=True)), pos
        return items, pos

    return decode


def _array(width: int) -> _Decoder:
    unpack = struct.Struct(">BB" if width == 1 else ">II").unpack_from

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        _size, count = unpack(buf, pos)
        pos += 2 * width
        if buf[pos] == 0x00:  # described element type: read and drop the descriptor
            _, pos = _read(buf, pos + 1)
        element = _DECODERS[buf[pos]]
        pos += 1
        items = []
        for _ in range(count):
            item, pos = element(buf, pos)
            items.append(item)
        return items, pos

    return decode


def _utf32_char(buf: bytes, pos: int) -> tuple[Any, int]:
    return buf[pos : pos + 4].decode("utf-32-be"), pos + 4


def _timestamp(buf: bytes, pos: int) -> tuple[Any, int]:
    millis = _INT64(buf, pos)[0]
    return _EPOCH + timedelta(milliseconds=millis), pos + 8


def _uuid(buf: bytes, pos: int) -> tuple[Any, int]:
    return uuid.UUID(bytes=buf[pos : pos + 16]), pos + 16


def _utf8(data: bytes) -> str:
    return data.decode()


def _ascii(data: bytes) -> str:
    return data.decode("ascii")


_DECODERS: dict[int, _Decoder] = {
    0x40: _constant(None),
    0x41: _constant(True),
    0x42: _constant(False),
    0x56: lambda buf, pos: (buf[pos] != 0, pos + 1),
    0x50: _fixed(">B"),
    0x51: _fixed(">b"),
    0x60: _fixed(">H"),
    0x61: _fixed(">h"),
    0x70: _fixed(">I"),
    0x52: _fixed(">B"),
    0x43: _constant(0),
    0x80: _fixed(">Q"),
    0x53: _fixed(">B"),
    0x44: _constant(0),
    0x71: _fixed(">i"),
    0x54: _fixed(">b"),
    0x81: _fixed(">q"),
    0x55: _fixed(">b"),
    0x72: _fixed(">f"),
    0x82: _fixed(">d"),
    0x74: _raw(4),  # decimal32, kept as raw bytes
    0x84: _raw(8),  # decimal64
    0x94: _raw(16),  # decimal128
    0x73: _utf32_char,
    0x83: _timestamp,  # milliseconds since the epoch, as aio-pika's datetime
    0x98: _uuid,
    0xA0: _variable(1, bytes),
    0xB0: _variable(4, bytes),
    0xA1: _variable(1, _utf8),
    0xB1: _variable(4, _utf8),
    0xA3: _variable(1, _ascii),
    0xB3: _variable(4, _ascii),
    0x45: lambda buf, pos: ([], pos),  # list0: a fresh list each time
    0xC0: _compound(1, as_map=False),
    0xD0: _compound(4, as_map=False),
    0xC1: _compound(1, as_map=True),
    0xD1: _compound(4, as_map=True),
    0xE0: _array(1),
    0xF0: _array(4),
}
