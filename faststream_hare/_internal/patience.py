"""Trying again with a growing pause until a deadline: the app may start before RabbitMQ.

Pauses start at 0.5 s and double up to ``max_pause_s``; a service that comes up while the
app waits is used within one short pause, a service that never comes gives one clear error
(a ``HareConnectionError`` that names the masked URL and the fix, instead of a wall of
traceback).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aio_pika.exceptions import AMQPConnectionError

from faststream_hare._internal.masking import mask_text, mask_url
from faststream_hare.errors import HareConnectionError

T = TypeVar("T")

logger = logging.getLogger("faststream_hare.connection")

#: Errors of a broker that is not there (yet): refused, unreachable, not answering.
UNREACHABLE = (AMQPConnectionError, OSError, asyncio.TimeoutError)

FIRST_PAUSE_S = 0.5
#: While the broker (or its stream port) cannot be reached, hare tries again at least this
#: often, whatever ``reconnect_interval_ms`` allows: every consumer kind handles again within
#: about a second of the broker accepting connections, however long the outage was.
OUTAGE_PAUSE_MAX_S = 1.0


async def keep_trying(
    attempt: Callable[[], Awaitable[T]],
    *,
    timeout_s: float,
    max_pause_s: float,
    retryable: tuple[type[BaseException], ...],
    on_failure: Callable[[BaseException, float], None],
) -> T:
    """``attempt()``'s result; its last error once ``timeout_s`` has passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    pause = FIRST_PAUSE_S
    while True:
        try:
            return await attempt()
        except retryable as exc:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise
            wait = min(pause, remaining)
            on_failure(exc, wait)
            await asyncio.sleep(wait)
            pause = min(pause * 2, max(max_pause_s, FIRST_PAUSE_S))


async def connect_patiently(
    connect: Callable[[], Awaitable[T]],
    *,
    url: str,
    timeout_s: float,
    max_pause_s: float,
    on_retry: Callable[[str, float], None],
) -> T:
    """``connect()``'s connection, tried until ``timeout_s`` has passed.

    ``on_retry(reason, pause_s)`` hears of each failed try; the first one is also logged.
    """
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
                timeout_s,
            )
        on_retry(reason, pause_s)

    quiet = _QuietTransportErrors()  # hare says it once; aiormq would say it every try
    aiormq_logger = logging.getLogger("aiormq.connection")
    aiormq_logger.addFilter(quiet)
    try:
        return await keep_trying(
            connect,
            timeout_s=timeout_s,
            max_pause_s=max_pause_s,
            retryable=UNREACHABLE,
            on_failure=on_failure,
        )
    except UNREACHABLE as exc:
        msg = (
            f"Cannot reach RabbitMQ at {shown} after {timeout_s:g} s "
            f"({_reason(exc)}); start RabbitMQ there, or set HARE_MQ_URL to where it runs."
        )
        raise HareConnectionError(msg) from None
    finally:
        aiormq_logger.removeFilter(quiet)


class _QuietTransportErrors(logging.Filter):
    """Drops aiormq's per-attempt "error when creating transport" while hare waits."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "error when creating transport" not in record.getMessage()


def _reason(exc: BaseException) -> str:
    return mask_text(f"{type(exc).__name__}: {exc}")[:300]
