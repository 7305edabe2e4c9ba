"""Connection telemetry: ``connected``, ``disconnected`` and ``reconnecting`` signals."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from faststream_hare._internal.masking import mask_text, mask_url
from faststream_hare.telemetry import signals

if TYPE_CHECKING:
    from aio_pika.abc import AbstractConnection

logger = logging.getLogger("faststream_hare.connection")


class ConnectionEvents:
    """Hooks a broker's robust connection and turns its life cycle into signals."""

    def __init__(self, broker: Any, *, name: str, url: str, reconnect_interval_ms: int) -> None:
        self.broker = broker
        self.name = name
        self.host = mask_url(url)
        self.reconnect_interval_ms = reconnect_interval_ms
        self.closing = False

    def attach(self, connection: AbstractConnection) -> None:
        """Register the callbacks and report the first ``connected``."""
        connection.close_callbacks.add(self._on_close)
        reconnect_callbacks = getattr(connection, "reconnect_callbacks", None)
        if reconnect_callbacks is not None:
            reconnect_callbacks.add(self._on_reconnected)
        self._connected()

    def _connected(self) -> None:
        signals.emit(
            signals.connection_connected,
            self.broker,
            {"system_time": signals.system_time()},
            {"connection_name": self.name, "host": self.host},
        )

    def _on_reconnected(self, *_: Any) -> None:
        logger.info("Reconnected to %s", self.host)
        self._connected()

    def _on_close(self, _connection: Any, exc: BaseException | None = None) -> None:
        if self.closing:
            return
        reason = mask_text(repr(exc)) if exc is not None else "closed"
        signals.emit(
            signals.connection_disconnected,
            self.broker,
            {"system_time": signals.system_time()},
            {"connection_name": self.name, "reason": reason},
        )
        logger.warning(
            "Connection to %s lost (%s); reconnecting in %d ms",
            self.host,
            reason,
            self.reconnect_interval_ms,
        )
        signals.emit(
            signals.connection_reconnecting,
            self.broker,
            {"retry_delay_ms": self.reconnect_interval_ms},
            {"connection_name": self.name, "host": self.host, "reason": reason},
        )
