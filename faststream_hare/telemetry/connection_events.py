"""Connection telemetry and recovery pace: one outage, one WARNING, one INFO.

Hooks the broker's robust connection. When it is lost: one WARNING, one ``disconnected`` and
``reconnecting`` signal, and aio-pika's reconnect pause starts at 0.5 s and doubles up to
``reconnect_interval_ms`` (so a short outage is over in about a second, a long one does not
hammer the broker). When it is back: one INFO with the outage's length, ``connected``, and
``on_reconnected`` wakes whatever waits to re-attach.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from faststream_hare._internal.masking import mask_text, mask_url
from faststream_hare._internal.patience import FIRST_PAUSE_S, OUTAGE_PAUSE_MAX_S
from faststream_hare._internal.tasks import end_tasks
from faststream_hare.telemetry import signals

if TYPE_CHECKING:
    from aio_pika.abc import AbstractConnection

logger = logging.getLogger("faststream_hare.connection")


class ConnectionEvents:
    """One per broker connection."""

    def __init__(
        self,
        broker: Any,
        *,
        name: str,
        url: str,
        reconnect_interval_ms: int,
        on_reconnected: Callable[[], None] = lambda: None,
    ) -> None:
        self.broker = broker
        self.name = name
        self.host = mask_url(url)
        self.reconnect_interval_ms = reconnect_interval_ms
        self.on_reconnected = on_reconnected
        self.closing = False
        self._lost_at: float | None = None
        self._connection: Any = None
        self._pacer: asyncio.Task[None] | None = None
        self._pacers: set[asyncio.Task[None]] = set()  # cancelled ones too, until they end

    def attach(self, connection: AbstractConnection) -> None:
        """Register the callbacks and report the first ``connected``."""
        self._connection = connection
        connection.close_callbacks.add(self._on_close)
        reconnect_callbacks = getattr(connection, "reconnect_callbacks", None)
        if reconnect_callbacks is not None:
            reconnect_callbacks.add(self._on_reconnected)
        self._connected()

    async def aclose(self) -> None:
        """The broker stops: no more reports, no pacing task left behind."""
        self.closing = True
        self._pacer = None
        await end_tasks(list(self._pacers))

    def _connected(self) -> None:
        signals.emit(
            signals.connection_connected,
            self.broker,
            {"system_time": signals.system_time()},
            {"connection_name": self.name, "host": self.host},
        )

    def _on_reconnected(self, *_: Any) -> None:
        lost_at, self._lost_at = self._lost_at, None
        self._stop_pacing()
        outage = f" after {time.monotonic() - lost_at:.1f} s" if lost_at is not None else ""
        logger.info("Connection to %s is back%s", self.host, outage)
        self._connected()
        self.on_reconnected()

    def _on_close(self, _connection: Any, exc: BaseException | None = None) -> None:
        if self.closing:
            return
        if isinstance(exc, asyncio.CancelledError):  # closed from this side: the loop ends
            logger.debug("Connection to %s closed while the program ends", self.host)
            return
        if self._lost_at is not None:  # a failed reconnect attempt of the same outage
            logger.debug("Reconnect attempt to %s failed: %r", self.host, exc)
            return
        self._lost_at = time.monotonic()
        reason = mask_text(repr(exc)) if exc is not None else "closed"
        signals.emit(
            signals.connection_disconnected,
            self.broker,
            {"system_time": signals.system_time()},
            {"connection_name": self.name, "reason": reason},
        )
        logger.warning("Connection to %s lost (%s); reconnecting", self.host, reason)
        emit_reconnecting(
            self.broker, name=self.name, host=self.host, reason=reason, pause_s=FIRST_PAUSE_S
        )
        self._start_pacing()

    def _start_pacing(self) -> None:
        """aio-pika waits ``reconnect_interval`` between attempts: grow it from 0.5 s to 1 s
        (``OUTAGE_PAUSE_MAX_S``; less if ``reconnect_interval_ms`` says so)."""
        if self._connection is None or not hasattr(self._connection, "reconnect_interval"):
            return
        self._stop_pacing()
        with contextlib.suppress(RuntimeError):  # no running loop: leave aio-pika's pace
            pacer = asyncio.get_running_loop().create_task(self._pace(), name="hare-reconnect-pace")
            self._pacer = pacer
            self._pacers.add(pacer)
            pacer.add_done_callback(self._pacers.discard)

    async def _pace(self) -> None:
        limit = min(self.reconnect_interval_ms / 1000, OUTAGE_PAUSE_MAX_S)
        pause = FIRST_PAUSE_S
        while not self.closing and not getattr(self._connection, "close_called", False):
            self._connection.reconnect_interval = min(pause, limit)
            await asyncio.sleep(min(pause, limit))
            pause *= 2

    def _stop_pacing(self) -> None:
        pacer, self._pacer = self._pacer, None
        if pacer is not None:
            pacer.cancel()
        if self._connection is not None and hasattr(self._connection, "reconnect_interval"):
            self._connection.reconnect_interval = self.reconnect_interval_ms / 1000


def emit_reconnecting(sender: object, *, name: str, host: str, reason: str, pause_s: float) -> None:
    """Signal ``connection.reconnecting``: the next try comes after ``pause_s``."""
    signals.emit(
        signals.connection_reconnecting,
        sender,
        {"retry_delay_ms": int(pause_s * 1000)},
        {"connection_name": name, "host": host, "reason": reason},
    )
