"""Declaring a plan in one round trip, on a channel that a broker's start shares among plans.

Declared one method after another, a plan is seven round trips (a channel opened and closed,
an exchange, four queues, a binding): hundreds of subscribers make thousands. Here every
method but the last goes out with ``nowait`` and only the last one is answered; RabbitMQ
handles a channel's methods in order, so that answer means every one before it was done, and
a refused one closes the channel instead. The caller then declares the plan again one method
after another (``declare.declare_plan``), which names what was refused or tolerates it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from faststream_hare._internal.channels import close_quietly, open_plain_channel
from faststream_hare.topology.plan import BindingDecl, ExchangeDecl, QueueDecl, TopologyPlan

if TYPE_CHECKING:
    from aio_pika.abc import AbstractChannel, AbstractConnection

Declaration = ExchangeDecl | QueueDecl | BindingDecl


class DeclarationChannels:
    """Channels the declarations of one start share: one is opened when none is free (so
    never more than declarations run at once), and a channel a refusal closed is dropped."""

    def __init__(self, connection: AbstractConnection) -> None:
        self._connection = connection
        self._free: list[AbstractChannel] = []

    @asynccontextmanager
    async def lend(self) -> AsyncIterator[AbstractChannel]:
        """A channel for one plan, taken back afterwards unless it failed."""
        channel = self._free.pop() if self._free else await open_plain_channel(self._connection)
        try:
            yield channel
        except BaseException:
            await close_quietly(channel)
            raise
        if channel.is_closed:
            return
        self._free.append(channel)

    async def aclose(self) -> None:
        """Close every channel (the start is over)."""
        free, self._free = self._free, []
        for channel in free:
            await close_quietly(channel)


async def declare_pipelined(channel: AbstractChannel, plan: TopologyPlan) -> None:
    """Declare ``plan`` on ``channel``, waiting only for the broker's answer to the last method.

    Raises the channel's error (a 406, a 404, ...) when the broker refused any of them.
    """
    raw = await channel.get_underlay_channel()
    methods: tuple[Declaration, ...] = (*plan.exchanges, *plan.queues, *plan.bindings)
    for index, method in enumerate(methods):
        await _send(raw, method, nowait=index < len(methods) - 1)


async def _send(raw: Any, method: Declaration, *, nowait: bool) -> None:
    """One method on aiormq's channel (``Any``: its overloads type ``nowait`` as a literal)."""
    if isinstance(method, ExchangeDecl):
        await raw.exchange_declare(
            method.name, exchange_type=method.type, durable=method.durable, nowait=nowait
        )
    elif isinstance(method, QueueDecl):
        await raw.queue_declare(
            method.name, durable=method.durable, arguments=method.arguments or None, nowait=nowait
        )
    elif method.to_exchange:
        await raw.exchange_bind(
            destination=method.destination,
            source=method.source,
            routing_key=method.routing_key,
            nowait=nowait,
        )
    else:
        await raw.queue_bind(method.destination, method.source, method.routing_key, nowait=nowait)
