"""Opening and closing rstream consumers for hare's stream subscribers.

A closed or half-dead connection must never break a stop or a reconnect, so closing is
bounded in time and quiet; a connection that cannot subscribe becomes one ``HareError``
sentence naming the masked endpoint and the fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

from rstream import Consumer, OnClosedErrorInfo

if TYPE_CHECKING:
    from faststream_hare.streams.endpoint import StreamEndpoint

logger = logging.getLogger("faststream_hare.streams")

#: Cap for closing a consumer or storing an offset, so a dead link cannot hang a stop.
CLOSE_TIMEOUT_S = 10.0


class _UnderHaresLogger(logging.Handler):
    """Re-emits rstream's records under ``faststream_hare.streams.rstream``: an operator
    configures hare's loggers, and rstream's lines follow them instead of the root logger's."""

    target = logging.getLogger("faststream_hare.streams.rstream")

    def emit(self, record: logging.LogRecord) -> None:
        if self.target.isEnabledFor(record.levelno):
            record.name = self.target.name
            self.target.handle(record)


def route_rstream_logs() -> None:
    """Route rstream's log lines under hare's logger (once per process)."""
    source = logging.getLogger("rstream")
    if not any(isinstance(handler, _UnderHaresLogger) for handler in source.handlers):
        source.addHandler(_UnderHaresLogger())
        source.propagate = False


def new_consumer(
    endpoint: StreamEndpoint,
    *,
    connection_name: str,
    ssl_context: ssl.SSLContext | None,
    on_close: Callable[[OnClosedErrorInfo], None],
    load_balancer: bool = False,
) -> Consumer:
    """An rstream ``Consumer`` for ``endpoint`` (not connected yet).

    ``load_balancer``: rstream opens the subscription's connection to the address the node
    advertises (often ``localhost:5552``); behind a proxy, a load balancer or a port mapping
    that address is wrong, so every connection goes through ``endpoint`` instead and rstream
    reconnects until it lands on a suitable node.
    """
    return Consumer(
        endpoint.host,
        endpoint.port,
        username=endpoint.username,
        password=endpoint.password,
        vhost=endpoint.vhost,
        ssl_context=(ssl_context or ssl.create_default_context()) if endpoint.tls else None,
        connection_name=connection_name,
        on_close_handler=on_close,
        load_balancer_mode=load_balancer,
    )


async def close_quietly(consumer: Consumer) -> None:
    """Close an rstream consumer; a dead connection must not break stop or reconnect."""
    clients = _clients_of(consumer)
    try:
        await asyncio.wait_for(consumer.close(), CLOSE_TIMEOUT_S)
    except Exception as exc:
        logger.debug("Closing an rstream consumer failed: %r", exc)
    for client in clients:  # rstream leaves the socket of a broken connection open
        connection = getattr(client, "_conn", None)
        with contextlib.suppress(Exception):
            if connection is not None:
                await asyncio.wait_for(connection.close(), CLOSE_TIMEOUT_S)


def _clients_of(consumer: Consumer) -> list[object]:
    """The consumer's connections (rstream 1.x keeps them in these two attributes)."""
    clients = [getattr(consumer, "_default_client", None)]
    clients += list(getattr(consumer, "_clients", {}).values())
    return [client for client in clients if client is not None]
