"""Publishing with publisher confirms and mandatory routing, on a channel of hare's own.

Retries, dead-letter copies, replays and ``publish_message`` all need to *know* the broker
took a message before they ack or report success; this is the one place that knows how.
"""

from __future__ import annotations

import asyncio
import weakref
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

from faststream_hare._internal import faststream as _faststream
from faststream_hare._internal.channels import close_quietly
from faststream_hare.errors import HareError

if TYPE_CHECKING:
    from aio_pika.abc import AbstractChannel, AbstractExchange
    from faststream.rabbit import RabbitBroker


class ConfirmError(HareError):
    """The broker did not confirm a message; it may not have been stored."""


class NotConnectedError(ConfirmError):
    """There is no usable connection or channel right now."""


class ReturnedError(ConfirmError):
    """The broker returned the message: no queue is bound for its routing key."""


class NackedError(ConfirmError):
    """The broker refused the message (``basic.nack``)."""


class ConfirmTimeoutError(ConfirmError):
    """No confirm arrived in time."""


class ConfirmedPublisher:
    """One confirm channel per broker, opened lazily and reopened when it closes."""

    def __init__(self, broker: RabbitBroker, *, default_timeout: float = 10.0) -> None:
        self._broker_ref = weakref.ref(broker)
        self.default_timeout = default_timeout
        self._channel: AbstractChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self._lock = asyncio.Lock()

    async def publish(
        self,
        message: aio_pika.Message,
        *,
        exchange: str,
        routing_key: str,
        timeout: float | None = None,
    ) -> None:
        """Publish and wait for the broker's confirm; raise a ``ConfirmError`` otherwise."""
        limit = self.default_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                target = await self._exchange(exchange)
                confirmation = await target.publish(
                    message, routing_key=routing_key, mandatory=True
                )
        except TimeoutError as exc:
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
            msg = f"exchange '{exchange}' does not exist, so '{routing_key}' is unroutable"
            raise ReturnedError(msg) from exc
        except (
            ChannelInvalidStateError,
            AMQPConnectionError,
            aiormq.exceptions.AMQPError,
            ConnectionError,
            RuntimeError,
        ) as exc:
            self._forget_channel()
            msg = f"not connected to RabbitMQ ({type(exc).__name__})"
            raise NotConnectedError(msg) from exc
        if isinstance(confirmation, commands.Basic.Nack):
            msg = f"RabbitMQ refused (nacked) the message for routing key '{routing_key}'"
            raise NackedError(msg)

    async def _exchange(self, name: str) -> AbstractExchange:
        channel = await self._open_channel()
        if not name:
            return channel.default_exchange
        exchange = self._exchanges.get(name)
        if exchange is None:
            exchange = await channel.get_exchange(name, ensure=False)
            self._exchanges[name] = exchange
        return exchange

    async def _open_channel(self) -> AbstractChannel:
        channel = self._channel
        if channel is not None and not channel.is_closed:
            return channel
        async with self._lock:
            if self._channel is not None and not self._channel.is_closed:
                return self._channel
            broker = self._broker_ref()
            connection = _faststream.connection_of(broker) if broker is not None else None
            if connection is None or connection.is_closed:
                msg = "not connected to RabbitMQ (the broker is not started or is reconnecting)"
                raise NotConnectedError(msg)
            self._exchanges.clear()
            self._channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            return self._channel

    def _forget_channel(self) -> None:
        channel, self._channel = self._channel, None
        self._exchanges.clear()
        if channel is not None and not channel.is_closed:
            asyncio.get_running_loop().create_task(close_quietly(channel))

    async def close(self) -> None:
        """Close the confirm channel (the broker is stopping)."""
        channel, self._channel = self._channel, None
        self._exchanges.clear()
        await close_quietly(channel)


_SHARED: weakref.WeakKeyDictionary[RabbitBroker, ConfirmedPublisher] = weakref.WeakKeyDictionary()


def confirmed_publisher(broker: RabbitBroker) -> ConfirmedPublisher:
    """The broker's shared ``ConfirmedPublisher``."""
    publisher = _SHARED.get(broker)
    if publisher is None:
        publisher = _SHARED[broker] = ConfirmedPublisher(broker)
    return publisher


async def close_confirmed_publisher(broker: RabbitBroker) -> None:
    """Close the broker's confirm channel, if one was opened."""
    publisher = _SHARED.pop(broker, None)
    if publisher is not None:
        await publisher.close()
