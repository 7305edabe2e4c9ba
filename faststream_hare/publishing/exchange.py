"""The exchange ``E`` of a hare publisher: declared on start, as HareMq's publisher does.

Only when it is missing: subscribers start before publishers and may have declared ``E`` with
another type (a plain FastStream subscriber's ``direct``). Redeclaring it as ``topic`` would
fail with a 406 and break an app that only swapped ``RabbitBroker`` for ``HareBroker``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiormq.exceptions

from faststream_hare._internal.channels import scratch_channel
from faststream_hare.topology.declare import declare_plan
from faststream_hare.topology.plan import ExchangeDecl, TopologyPlan

if TYPE_CHECKING:
    from aio_pika.abc import AbstractRobustConnection


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
