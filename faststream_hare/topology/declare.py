"""Declaring a topology plan on the broker, on a channel of hare's own.

A 406 from the broker closes only that channel and becomes a ``HareTopologyError``. One
mismatch is tolerated: ``Q.dead`` that already exists with another ``x-message-ttl`` (an
Elixir HareMq service declares 31 449 600 ms) is used as it is, with one WARNING.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from faststream_hare._internal.channels import close_quietly
from faststream_hare.errors import HareTopologyError
from faststream_hare.topology.mismatch import translate_406
from faststream_hare.topology.plan import QueueDecl, TopologyPlan

if TYPE_CHECKING:
    from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection

logger = logging.getLogger("faststream_hare.topology")


async def declare_plan(connection: AbstractRobustConnection, plan: TopologyPlan) -> None:
    """Declare ``plan``: exchanges, queues, then bindings."""
    channel = await connection.channel(publisher_confirms=False)
    try:
        for ex in plan.exchanges:
            with translate_406("exchange", ex.name, {"type": ex.type, "durable": ex.durable}):
                await channel.declare_exchange(ex.name, ex.type, durable=ex.durable, robust=False)
        for decl in plan.queues:
            try:
                await _declare_queue(channel, decl)
            except HareTopologyError as exc:
                if decl.name != plan.dead_queue or exc.argument != "x-message-ttl":
                    raise
                _warn_dead_ttl(decl.name, exc.found, exc.wanted)
                await close_quietly(channel)  # the 406 closed it on the broker's side
                channel = await connection.channel(publisher_confirms=False)
        await _bind(channel, plan)
    finally:
        await close_quietly(channel)


async def declare_queue(connection: AbstractRobustConnection, decl: QueueDecl) -> None:
    """Declare one dead queue alone (a stream's opt-in ``Q.dead``)."""
    plan = TopologyPlan(
        queue=decl.name, exchanges=(), queues=(decl,), bindings=(), dead_queue=decl.name
    )
    await declare_plan(connection, plan)


async def _declare_queue(channel: AbstractRobustChannel, decl: QueueDecl) -> None:
    with translate_406("queue", decl.name, decl.arguments):
        await channel.declare_queue(
            decl.name, durable=decl.durable, arguments=decl.arguments or None, robust=False
        )


async def _bind(channel: AbstractRobustChannel, plan: TopologyPlan) -> None:
    for b in plan.bindings:
        with translate_406("binding", f"{b.source} -> {b.destination}", {}):
            if b.to_exchange:
                destination = await channel.get_exchange(b.destination, ensure=False)
                await destination.bind(b.source, routing_key=b.routing_key)
            else:
                target = await channel.get_queue(b.destination, ensure=False)
                await target.bind(b.source, routing_key=b.routing_key)


def _warn_dead_ttl(queue: str, found: object, wanted: object) -> None:
    logger.warning(
        "Queue '%s' already exists with x-message-ttl=%s ms, hare is configured with %s ms; "
        "hare uses the queue as it is. Set HARE_MQ_MESSAGE_TTL_MS=%s to match it (an Elixir "
        "HareMq service declares 31449600).",
        queue,
        found,
        wanted,
        found,
    )
