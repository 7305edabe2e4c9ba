"""Handing a failed delivery on from wherever it failed, with hare alone settling it.

The handler raising (``attempt.py``), FastStream failing before it (parser, decoder, no
handler: ``middleware.py``) and everything failing after it (``guard.py``) end here. On the
broker the message is locked first — FastStream's own ack or reject becomes a no-op — and its
copy is confirmed in the background (``pending.py``): the original is acked only once the copy
is confirmed, else it goes back to ``Q``. Never acked without a confirmed copy.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from faststream_hare.retry.handoff import Handoff

if TYPE_CHECKING:
    import logging

    from aio_pika.abc import AbstractIncomingMessage

    from faststream_hare.contract.headers import DeadReason
    from faststream_hare.retry.endpoint import HareEndpoint


async def hand_on(
    subscriber: HareEndpoint,
    raw: AbstractIncomingMessage,
    exc: BaseException,
    *,
    dead_reason: DeadReason | None,
    log: logging.Logger,
) -> None:
    """Send ``raw`` to its next delay queue or ``Q.dead``; hare settles it from now on."""
    handoff = Handoff(subscriber, raw, raw, log)
    decision = handoff.decide(dead_reason=dead_reason)
    handoff.announce(decision, exc)
    copy = handoff.prepare(decision, exc)
    raw.lock()
    name = f"hare-handoff:{subscriber.queue_name}"

    def in_background(finish: Coroutine[Any, Any, None]) -> None:
        # by channel: a pool worker removed settles only its own
        subscriber.handoffs.start(finish, name=name, channel=raw.channel)

    await subscriber.hare_runtime.transport.hand_off(
        handoff.finish(decision, exc, copy), in_background=in_background
    )
