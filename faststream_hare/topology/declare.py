"""Declaring a topology plan on the broker, on a channel of hare's own.

A 406 from the broker closes only that channel and becomes a ``HareTopologyError``. Two
mismatches are tolerated, each with one WARNING: ``Q.dead`` that already exists with another
``x-message-ttl`` (an Elixir HareMq service declares 31 449 600 ms) is used as it is, and so is
a quorum queue that exists without hare's ``x-delivery-limit`` (declared before RabbitMQ 4.0,
or by an older hare): it is declared again as it is, and its limit stays in force.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import aiormq.exceptions

from faststream_hare._internal.channels import close_quietly
from faststream_hare._internal.tasks import run_bounded
from faststream_hare.errors import HareTopologyError
from faststream_hare.topology.delivery_limit import ARGUMENT, policy_command
from faststream_hare.topology.mismatch import translate_406
from faststream_hare.topology.pipelined import DeclarationChannels, declare_pipelined
from faststream_hare.topology.plan import QueueDecl, TopologyPlan

if TYPE_CHECKING:
    from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection

logger = logging.getLogger("faststream_hare.topology")

#: Topologies declared at once when a broker starts, each on a channel of its own: a plan is a
#: chain of round trips, so hundreds of subscribers declared one after another would start
#: several times slower than the same plain FastStream subscribers.
CONCURRENT_DECLARATIONS = 16


async def declare_concurrently(
    declarations: Sequence[Callable[[], Awaitable[None]]], limit: int | None = None
) -> None:
    """Run every declaration, at most ``limit`` (default ``CONCURRENT_DECLARATIONS``) at a
    time; then raise the first failure (in the given order, as one after another would)."""
    await run_bounded(declarations, limit or CONCURRENT_DECLARATIONS)


async def declare_plan(
    connection: AbstractRobustConnection,
    plan: TopologyPlan,
    channels: DeclarationChannels | None = None,
) -> tuple[str, ...]:
    """Declare ``plan``: exchanges, queues, then bindings.

    With ``channels`` (a broker's start), first in one round trip on a shared channel
    (``pipelined.py``); when the broker refuses, one method after another, as without.
    Returns the queues that kept a delivery limit hare wanted to lift (see above).
    """
    if channels is not None:
        try:
            async with channels.lend() as shared:
                await declare_pipelined(shared, plan)
        except (aiormq.exceptions.AMQPError, aiormq.exceptions.ChannelInvalidStateError):
            pass  # declared again below, one by one: that names the refusal or tolerates it
        else:
            return ()
    kept_limit: list[str] = []
    channel = await connection.channel(publisher_confirms=False)
    try:
        for ex in plan.exchanges:
            with translate_406("exchange", ex.name, {"type": ex.type, "durable": ex.durable}):
                await channel.declare_exchange(ex.name, ex.type, durable=ex.durable, robust=False)
        for decl in plan.queues:
            try:
                await _declare_queue(channel, decl)
            except HareTopologyError as exc:
                tolerated = _tolerated(plan, decl, exc)
                if tolerated is None:
                    raise
                await close_quietly(channel)  # the 406 closed it on the broker's side
                channel = await connection.channel(publisher_confirms=False)
                if tolerated is not decl:
                    await _declare_queue(channel, tolerated)
                    kept_limit.append(decl.name)
                    _warn_kept_limit(decl.name, exc.found)
        await _bind(channel, plan)
    finally:
        await close_quietly(channel)
    return tuple(kept_limit)


def _tolerated(plan: TopologyPlan, decl: QueueDecl, exc: HareTopologyError) -> QueueDecl | None:
    """What to use instead of ``decl`` after its 406 (``decl``: as it is; ``None``: fail)."""
    if decl.name == plan.dead_queue and exc.argument == "x-message-ttl":
        _warn_dead_ttl(decl.name, exc.found, exc.wanted)
        return decl
    if exc.argument == ARGUMENT and ARGUMENT in decl.arguments and exc.found == "none":
        arguments = {k: v for k, v in decl.arguments.items() if k != ARGUMENT}
        return QueueDecl(decl.name, arguments, decl.durable)
    return None


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


def _warn_kept_limit(queue: str, found: object) -> None:
    logger.warning(
        "Quorum queue '%s' already exists without x-delivery-limit (found %s), so RabbitMQ's "
        "default limit of 20 deliveries applies; hare uses the queue as it is and sends a "
        "message it would requeue for the last time to the dead queue instead. To lift the "
        "limit, set a policy: %s (or add delivery-limit=-1 to the policy already on it); "
        "`hare doctor` shows the limit in force.",
        queue,
        found,
        policy_command([queue]),
    )


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
