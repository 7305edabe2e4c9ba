"""The exchange ``E`` of a publisher: a hare one's declared on start, as HareMq's publisher does.

Only when it is missing: subscribers start before publishers and may have declared ``E`` with
another type (a plain FastStream subscriber's ``direct``). Redeclaring it as ``topic`` would
fail with a 406 and break an app that only swapped ``RabbitBroker`` for ``HareBroker``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import aiormq.exceptions

from faststream_hare._internal.channels import scratch_channel
from faststream_hare.errors import HareTopologyError
from faststream_hare.topology.declare import declare_plan
from faststream_hare.topology.mismatch import parse_mismatch
from faststream_hare.topology.plan import ExchangeDecl, TopologyPlan

if TYPE_CHECKING:
    from aio_pika.abc import AbstractRobustConnection
    from faststream.rabbit import RabbitExchange


async def ensure_exchange(connection: AbstractRobustConnection, name: str, kind: str) -> bool:
    """Declare ``name`` (durable, of type ``kind``) unless it exists; True if declared."""
    if await exchange_exists(connection, name):
        return False
    plan = TopologyPlan(queue=name, exchanges=(ExchangeDecl(name, kind),), queues=(), bindings=())
    await declare_plan(connection, plan)
    return True


async def exchange_exists(connection: AbstractRobustConnection, name: str) -> bool:
    """A passive declare on a throwaway channel (a missing exchange closes that channel)."""
    async with scratch_channel(connection) as channel:
        try:
            await channel.declare_exchange(name, passive=True, robust=False)
        except aiormq.exceptions.ChannelNotFoundEntity:
            return False
    return True


@contextmanager
def explain_exchange_clash(exchange: RabbitExchange) -> Iterator[None]:
    """A plain publisher's exchange declared (as FastStream does) against another type.

    Typically ``E`` of a hare subscriber (``settings.exchange_type``) with a plain
    ``broker.publisher(exchange="E")`` (FastStream's ``direct``): name both and the fix.
    """
    try:
        yield
    except aiormq.exceptions.ChannelPreconditionFailed as exc:
        mismatch = parse_mismatch(" ".join(str(a) for a in exc.args))
        if mismatch is None:
            raise
        message = (
            f"Exchange '{exchange.name}' already exists with {mismatch.argument}="
            f"{mismatch.found!r}, but this publisher declares it as FastStream does "
            f"({mismatch.argument}={mismatch.received!r}); give the publisher hare=True to use "
            "the exchange as it is, or pass a RabbitExchange that matches it."
        )
        raise HareTopologyError(
            message,
            entity=exchange.name,
            argument=mismatch.argument,
            found=mismatch.found,
            wanted=mismatch.received,
        ) from exc
