"""Confirmed copies of dead letters back to ``Q``, optionally at a limited rate.

A copy goes to ``Q`` through the default exchange on a channel of its own with publisher
confirms and mandatory routing; the dead original is acked only after the broker confirmed
the copy, so a message is never lost (at worst, after a crash between the two steps, it is in
both queues).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from aio_pika.exceptions import DeliveryError, PublishError

from faststream_hare.retry.copies import MessageCopy
from faststream_hare.retry.decision import replay_headers

if TYPE_CHECKING:
    from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

CONFIRM_TIMEOUT_S = 10.0


class CopyNotConfirmedError(Exception):
    """The broker did not confirm a replayed copy (the caller stops and says why)."""


class ConfirmedCopier:
    """Publishes confirmed copies to ``Q`` on a channel of its own, optionally rate-limited."""

    def __init__(self, connection: AbstractConnection, queue: str, rate: float | None) -> None:
        self.connection, self.queue, self.rate = connection, queue, rate
        self._channel: AbstractChannel | None = None
        self._started = 0.0
        self._sent = 0

    async def move(self, message: AbstractIncomingMessage) -> None:
        """Publish the copy, wait for the confirm, then ack the dead original."""
        await self._pace()
        copy = MessageCopy.of(message)
        outgoing = copy.with_headers(replay_headers(copy.headers)).to_aio_pika()
        try:
            async with asyncio.timeout(CONFIRM_TIMEOUT_S):
                channel = await self._open()
                await channel.default_exchange.publish(
                    outgoing, routing_key=self.queue, mandatory=True
                )
        except TimeoutError:
            msg = f"no confirm from RabbitMQ within {CONFIRM_TIMEOUT_S:g} s"
            raise CopyNotConfirmedError(msg) from None
        except PublishError:
            msg = f"RabbitMQ returned the copy: queue '{self.queue}' does not exist"
            raise CopyNotConfirmedError(msg) from None
        except DeliveryError:
            msg = "RabbitMQ refused (nacked) the copy"
            raise CopyNotConfirmedError(msg) from None
        except Exception as exc:
            msg = f"the copy could not be published ({type(exc).__name__})"
            raise CopyNotConfirmedError(msg) from None
        await message.ack()
        self._sent += 1

    async def _pace(self) -> None:
        if self.rate is None:
            return
        now = time.monotonic()
        if self._sent == 0:
            self._started = now
            return
        due = self._started + self._sent / self.rate
        if due > now:
            await asyncio.sleep(due - now)

    async def _open(self) -> AbstractChannel:
        if self._channel is None or self._channel.is_closed:
            self._channel = await self.connection.channel(
                publisher_confirms=True, on_return_raises=True
            )
        return self._channel

    async def close(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            with contextlib.suppress(Exception):
                await self._channel.close()
