"""The ack that ends a delivery hare took over, so FastStream does not log it as "acked"."""

from __future__ import annotations

from faststream.exceptions import AckMessage


class HandedOn(AckMessage):
    """Raised once hare settles a failed delivery (retry, ``Q.dead``, back to ``Q``, or a
    stream moving on): hare's own line said what happened to it.

    It is an ``AckMessage`` to every middleware inside hare's ``DeliveryGuard``; the guard
    swallows it so FastStream's log does not add a misleading ``Message was acked``
    (FastStream's ack that follows is a no-op: hare settled the message already).
    """

    def __str__(self) -> str:
        return "Message was handed on by hare"
