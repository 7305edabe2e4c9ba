"""``retry_count`` on the wire as an AMQP 64-bit long (type ``'l'``).

pamqp picks the smallest integer type for a header value, but HareMq (Elixir) only reads a
``retry_count`` of type ``long``: with anything smaller it sees 0 and retries forever. So hare
marks the values that must be longs with ``AmqpLong`` and teaches pamqp's table encoder that one
type. This is the only change hare makes to pamqp, and it touches no other value.
"""

from __future__ import annotations

from collections.abc import Callable

from pamqp import encode as _pamqp_encode


class AmqpLong(int):
    """An ``int`` that is always encoded as an AMQP ``long`` (``'l'``, signed 64-bit)."""

    __slots__ = ()


def _install() -> None:
    original: Callable[[int], bytes] = _pamqp_encode.table_integer
    if getattr(original, "_hare_long_aware", False):
        return

    def table_integer(value: int) -> bytes:
        if type(value) is AmqpLong:
            return b"l" + _pamqp_encode.long_long_int(value)
        return original(value)

    table_integer._hare_long_aware = True  # type: ignore[attr-defined]
    _pamqp_encode.table_integer = table_integer


_install()
