"""Declaring a plan in one round trip, on a channel that a broker's start shares among plans.

Declared one method after another, a plan is seven round trips (a channel opened and closed,
an exchange, four queues, a binding): hundreds of subscribers make thousands. Here every
method but the last goes out with ``nowait``, in one socket write (on loopback each write
costs the client more than encoding the method), and only the last one is answered; RabbitMQ
handles a channel's methods in order, so that answer means every one before it was done, and
a refused one closes the channel instead. The caller then declares the plan again one method
after another (``declare.declare_plan``), which names what was refused or tolerates it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from pamqp import commands

from faststream_hare._internal.aiormq_frames import call, write_methods
from faststream_hare._internal.channels import close_quietly, open_plain_channel
from faststream_hare.topology.plan import BindingDecl, ExchangeDecl, QueueDecl, TopologyPlan

if TYPE_CHECKING:
    from aio_pika.abc import AbstractChannel, AbstractConnection

Method = (
    commands.Exchange.Declare
    | commands.Queue.Declare
    | commands.Exchange.Bind
    | commands.Queue.Bind
)


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
    """Declare ``plan`` on ``channel``: every method but the last in one write, then the last,
    whose answer is the only one waited for.

    Raises the channel's error (a 406, a 404, ...) when the broker refused any of them.
    """
    raw = await channel.get_underlay_channel()
    methods = [
        *(_exchange(ex) for ex in plan.exchanges),
        *(_queue(decl) for decl in plan.queues),
        *(_binding(b) for b in plan.bindings),
    ]
    if not methods:
        return
    *ahead, last = methods
    if ahead:
        await write_methods(raw, [_nowait(method) for method in ahead])
    await call(raw, last)


def _nowait(method: Method) -> Method:
    method.nowait = True
    return method


def _exchange(ex: ExchangeDecl) -> Method:
    return commands.Exchange.Declare(exchange=ex.name, exchange_type=ex.type, durable=ex.durable)


def _queue(decl: QueueDecl) -> Method:
    return commands.Queue.Declare(
        queue=decl.name, durable=decl.durable, arguments=decl.arguments or None
    )


def _binding(b: BindingDecl) -> Method:
    if b.to_exchange:
        return commands.Exchange.Bind(
            destination=b.destination, source=b.source, routing_key=b.routing_key
        )
    return commands.Queue.Bind(queue=b.destination, exchange=b.source, routing_key=b.routing_key)
