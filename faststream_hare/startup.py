"""Reaching RabbitMQ when the app starts: patiently, then with one clear sentence.

``faststream run`` may start before the broker (containers, a host rebooting). hare tries again
with a growing pause for ``settings.startup_timeout_ms``, signalling ``connection.reconnecting``
for each try, and then fails with a ``HareConnectionError`` that names the masked URL and the
fix, instead of a wall of traceback.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

from aio_pika.exceptions import AMQPConnectionError

from faststream_hare._internal import faststream as _faststream
from faststream_hare._internal.masking import mask_text, mask_url
from faststream_hare._internal.patience import keep_trying
from faststream_hare.errors import HareConnectionError, HareDedupError
from faststream_hare.settings import HareSettings
from faststream_hare.telemetry import signals

T = TypeVar("T")

logger = logging.getLogger("faststream_hare.connection")

#: Errors of a broker that is not there (yet): refused, unreachable, not answering.
UNREACHABLE = (AMQPConnectionError, OSError, asyncio.TimeoutError)


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

    quiet = _QuietTransportErrors()  # hare says it once; aiormq would say it every try
    aiormq_logger = logging.getLogger("aiormq.connection")
    aiormq_logger.addFilter(quiet)
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
        if _faststream.running_faststream_cli():
            _exit_cli(msg)
        raise HareConnectionError(msg) from None
    finally:
        aiormq_logger.removeFilter(quiet)


def _exit_cli(message: str) -> NoReturn:
    """Inside ``faststream run`` nothing has started yet and nothing is left to clean up:
    the one sentence, exit status 1, instead of a page of traceback (and an exception group
    a ``SystemExit`` would become inside FastStream's task group)."""
    logger.error(message)
    for handler in logging.getLogger().handlers + logger.handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)


async def reach_dedup_store(store: object, settings: HareSettings) -> None:
    """A Redis dedup store is tried like RabbitMQ at start: patiently, then one sentence."""
    ping = getattr(store, "ping", None)
    if ping is None:
        return  # in memory, or a custom store: nothing to reach
    url = mask_url(str(getattr(store, "url", "")))
    warned = False

    def on_failure(exc: BaseException, pause_s: float) -> None:
        nonlocal warned
        if not warned:
            warned = True
            logger.warning(
                "%s Trying again for up to %.0f s", exc, settings.startup_timeout_ms / 1000
            )

    try:
        await keep_trying(
            ping,
            timeout_s=settings.startup_timeout_ms / 1000,
            max_pause_s=settings.reconnect_interval_ms / 1000,
            retryable=(HareDedupError,),
            on_failure=on_failure,
        )
    except HareDedupError as exc:
        msg = (
            f"Cannot reach the Redis dedup store at {url} after "
            f"{settings.startup_timeout_ms / 1000:g} s ({exc}); start Redis there, or set "
            "HARE_MQ_DEDUP_URL (or Unique(store=...)) to where it runs."
        )
        if _faststream.running_faststream_cli():
            _exit_cli(msg)
        raise HareConnectionError(msg) from None


class _QuietTransportErrors(logging.Filter):
    """Drops aiormq's per-attempt "error when creating transport" while hare waits."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "error when creating transport" not in record.getMessage()


def _reason(exc: BaseException) -> str:
    return mask_text(f"{type(exc).__name__}: {exc}")[:300]
