"""Reaching RabbitMQ when the app starts: patiently, then with one clear sentence.

``faststream run`` may start before the broker (containers, a host rebooting). hare tries again
with a growing pause for ``settings.startup_timeout_ms``, signalling ``connection.reconnecting``
for each try, and then fails with a ``HareConnectionError`` that names the masked URL and the
fix, instead of a wall of traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aio_pika.exceptions import AMQPConnectionError

from faststream_hare._internal.masking import mask_text, mask_url
from faststream_hare._internal.patience import keep_trying
from faststream_hare.errors import HareConnectionError
from faststream_hare.settings import HareSettings
from faststream_hare.telemetry import signals

T = TypeVar("T")

logger = logging.getLogger("faststream_hare.connection")

#: Errors of a broker that is not there (yet): refused, unreachable, not answering.
UNREACHABLE = (AMQPConnectionError, OSError, TimeoutError)


async def connect_patiently(
    connect: Callable[[], Awaitable[T]],
    *,
    url: str,
    settings: HareSettings,
    sender: object,
    name: str,
) -> T:
    """``connect()``'s connection, tried until ``settings.startup_timeout_ms`` has passed."""
    shown = mask_url(url)
    warned = False

    def on_failure(exc: BaseException, pause_s: float) -> None:
        nonlocal warned
        reason = _reason(exc)
        if not warned:
            warned = True
            logger.warning(
                "RabbitMQ at %s is not reachable (%s); trying again for up to %.0f s",
                shown,
                reason,
                settings.startup_timeout_ms / 1000,
            )
        signals.emit(
            signals.connection_reconnecting,
            sender,
            {"retry_delay_ms": int(pause_s * 1000)},
            {"connection_name": name, "host": shown, "reason": reason},
        )

    try:
        return await keep_trying(
            connect,
            timeout_s=settings.startup_timeout_ms / 1000,
            max_pause_s=settings.reconnect_interval_ms / 1000,
            retryable=UNREACHABLE,
            on_failure=on_failure,
        )
    except UNREACHABLE as exc:
        msg = (
            f"Cannot reach RabbitMQ at {shown} after {settings.startup_timeout_ms / 1000:g} s "
            f"({_reason(exc)}); start RabbitMQ there, or set HARE_MQ_URL to where it runs."
        )
        raise HareConnectionError(msg) from None


def _reason(exc: BaseException) -> str:
    return mask_text(f"{type(exc).__name__}: {exc}")[:300]
