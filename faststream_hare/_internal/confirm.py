"""Publishing with publisher confirms and mandatory routing, on a channel of hare's own.

Retries, dead-letter copies, replays and ``publish_message`` all need to *know* the broker
took a message before they ack or report success; this is the one place that knows how.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import aio_pika
import aiormq.exceptions
from aio_pika.exceptions import (
    AMQPConnectionError,
    ChannelInvalidStateError,
    DeliveryError,
    PublishError,
)
from pamqp import commands

from faststream_hare._internal import compat
from faststream_hare._internal.aiormq_frames import Publish
from faststream_hare._internal.channels import close_quietly
from faststream_hare._internal.publish_pipeline import PublishPipeline
from faststream_hare.errors import (
    ConfirmTimeoutError,
    NackedError,
    NotConnectedError,
    ReturnedError,
)

if TYPE_CHECKING:
    from aio_pika.abc import AbstractChannel, AbstractConnection

#: Returns the live connection, or ``None`` while there is none (not started, closed).
ConnectionSource = Callable[[], "AbstractConnection | None"]


#: Pause before reporting "not connected" (see ``ConfirmedPublisher._link_down_pause``).
LINK_DOWN_PAUSE_S = 0.05


_NO_EXCHANGE = re.compile(r"no exchange '(?P<name>.*)' in vhost")


def missing_exchange(exc: BaseException) -> str | None:
    """The exchange a ``404 NOT_FOUND`` names (RabbitMQ's text), if it names one.

    The 404 closes the channel: every publish in flight on it fails with it, but only the
    ones sent to this exchange were refused.
    """
    found = _NO_EXCHANGE.search(str(exc))
    return found["name"] if found else None


class ConfirmedPublisher:
    """A confirm channel of its own, opened lazily and reopened when it closes.

    Each use (retry copies, ``publish_message``) gets its own instance, so a channel error on
    one (a 404 for a deleted exchange closes the channel) never fails the other's confirms.
    """

    def __init__(self, connection: ConnectionSource, *, default_timeout: float = 10.0) -> None:
        self._connection = connection
        self.default_timeout = default_timeout
        self._channel: AbstractChannel | None = None
        self._lock = asyncio.Lock()
        self._pipeline = PublishPipeline(self._underlay)
        self._closing: set[asyncio.Task[None]] = set()

    async def publish(
        self,
        message: aio_pika.Message,
        *,
        exchange: str,
        routing_key: str,
        timeout: float | None = None,
    ) -> None:
        """Publish and wait for the broker's confirm; raise a ``ConfirmError`` otherwise."""
        await self.publish_raw(
            message.body,
            message.properties,
            exchange=exchange,
            routing_key=routing_key,
            timeout=timeout,
        )

    async def publish_raw(
        self,
        body: bytes,
        properties: commands.Basic.Properties,
        *,
        exchange: str,
        routing_key: str,
        timeout: float | None = None,
    ) -> None:
        """``publish`` for a body and its AMQP properties (no ``aio_pika.Message`` built).

        The message is written with the rest of this turn's publishes (``publish_pipeline``).
        """
        limit = self.default_timeout if timeout is None else timeout
        try:
            async with compat.timeout(limit):
                confirmation = await self._pipeline.submit(
                    Publish(exchange, routing_key, body, properties)
                )
        except asyncio.TimeoutError as exc:
            msg = f"no confirm from RabbitMQ within {limit:g} s for routing key '{routing_key}'"
            raise ConfirmTimeoutError(msg) from exc
        except PublishError as exc:
            msg = f"RabbitMQ returned the message: nothing is bound to route '{routing_key}'"
            raise ReturnedError(msg) from exc
        except DeliveryError as exc:
            msg = f"RabbitMQ refused (nacked) the message for routing key '{routing_key}'"
            raise NackedError(msg) from exc
        except aiormq.exceptions.ChannelNotFoundEntity as exc:
            self._forget_channel()
            if missing_exchange(exc) != exchange:  # the channel closed under this publish
                msg = f"not connected to RabbitMQ (the channel closed: {exc})"
                raise NotConnectedError(msg) from exc
            msg = f"exchange '{exchange}' does not exist, so '{routing_key}' is unroutable"
            raise ReturnedError(msg) from exc
        except (
            ChannelInvalidStateError,
            AMQPConnectionError,
            aiormq.exceptions.AMQPError,
            ConnectionError,
        ) as exc:
            await self._link_down_pause()
            msg = f"not connected to RabbitMQ ({type(exc).__name__})"
            raise NotConnectedError(msg) from exc
        except Exception as exc:
            # aiormq reports some losses as RuntimeError ("Connection was not opened") or as a
            # bare Exception (a channel opening when the link is cut). Only with the link
            # down is that an outage; otherwise it is a real bug and must surface.
            if not self._link_is_down():
                raise
            await self._link_down_pause()
            msg = f"not connected to RabbitMQ ({type(exc).__name__}: {exc})"
            raise NotConnectedError(msg) from exc
        if isinstance(confirmation, commands.Basic.Nack):
            msg = f"RabbitMQ refused (nacked) the message for routing key '{routing_key}'"
            raise NackedError(msg)

    async def _link_down_pause(self) -> None:
        """Forget the channel and pause briefly: aiormq can fail at once, without yielding,
        while the link is down, and a caller that publishes again at once would then spin
        without ever letting the reconnect run."""
        self._forget_channel()
        await asyncio.sleep(LINK_DOWN_PAUSE_S)

    def _link_is_down(self) -> bool:
        """No open connection, or no open confirm channel (it never opened, or it closed)."""
        connection = self._connection()
        channel = self._channel
        return connection is None or connection.is_closed or channel is None or channel.is_closed

    async def _underlay(self) -> aiormq.abc.AbstractChannel:
        """aiormq's channel under the open confirm channel (opened first if need be)."""
        channel = self._channel
        if channel is None or channel.is_closed:
            channel = await self._open_channel()
        return await channel.get_underlay_channel()

    async def _open_channel(self) -> AbstractChannel:
        channel = self._channel
        if channel is not None and not channel.is_closed:
            return channel
        async with self._lock:
            if self._channel is not None and not self._channel.is_closed:
                return self._channel
            connection = self._connection()
            if connection is not None and not getattr(connection, "close_called", True):
                # reconnecting: wait (within the caller's timeout) instead of failing at once,
                # so a short blip costs a pause, and a retry loop cannot spin without yielding
                await connection.ready()
            if connection is None or connection.is_closed:
                msg = "not connected to RabbitMQ (the broker is not started or is reconnecting)"
                raise NotConnectedError(msg)
            self._channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            return self._channel

    def _forget_channel(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None and not channel.is_closed:
            task = asyncio.get_running_loop().create_task(close_quietly(channel))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Close the confirm channel (the broker is stopping) and wait for earlier closes."""
        await self._pipeline.close()
        channel, self._channel = self._channel, None
        await close_quietly(channel)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
