"""The exchange ``E`` of a publisher: a hare one's declared on start, as HareMq's publisher does.

Only when it is missing: subscribers start before publishers and may have declared ``E`` with
another type (a plain FastStream subscriber's ``direct``). Redeclaring it as ``topic`` would
fail with a 406 and break an app that only swapped ``RabbitBroker`` for ``HareBroker``.

A plain publisher declares its exchange as FastStream does, except where that would break the
start over the exchange's type: it takes the declaration of the broker's own hare subscriber
that declares the same exchange (``topic`` where FastStream says ``direct``), and an exchange
that exists with another type (an Elixir HareMq service's, say) is used as it is.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

import aiormq.exceptions
from faststream.rabbit.schemas import ExchangeType

from faststream_hare._internal.channels import scratch_channel
from faststream_hare.errors import HareTopologyError
from faststream_hare.topology.declare import declare_plan
from faststream_hare.topology.mismatch import parse_mismatch
from faststream_hare.topology.plan import ExchangeDecl, TopologyPlan

logger = logging.getLogger("faststream_hare.publishing")

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


async def plain_exchange(
    connection: AbstractRobustConnection,
    exchange: RabbitExchange,
    subscriber_exchanges: Mapping[str, str],
) -> RabbitExchange:
    """The exchange a plain publisher declares (see the module docstring)."""
    if not exchange.name or not exchange.declare:
        return exchange
    kind = subscriber_exchanges.get(exchange.name)
    if kind is not None:  # declared by a hare subscriber of this broker: the same way
        if exchange.type.value == kind and exchange.durable and not exchange.auto_delete:
            return exchange
        adopted = copy.copy(exchange)
        adopted.type = ExchangeType(kind)
        adopted.durable, adopted.auto_delete, adopted.arguments = True, False, {}
        return adopted
    found = await _existing_type(connection, exchange)
    if found is None:
        return exchange
    logger.warning(
        "Exchange '%s' exists as %s; this publisher would declare it %s (as FastStream does): "
        "it publishes to the exchange as it is",
        exchange.name,
        found,
        exchange.type.value,
    )
    existing = copy.copy(exchange)
    existing.type = ExchangeType(found)
    existing.declare = False
    return existing


async def _existing_type(
    connection: AbstractRobustConnection, exchange: RabbitExchange
) -> str | None:
    """Declare ``exchange`` as FastStream would, on a throwaway channel: ``None`` when that
    works, the type found when it exists with another type; any other mismatch raises."""
    with explain_exchange_clash(exchange):
        async with scratch_channel(connection) as channel:
            try:
                await channel.declare_exchange(
                    exchange.name,
                    type=exchange.type.value,
                    durable=exchange.durable,
                    auto_delete=exchange.auto_delete,
                    arguments=exchange.arguments,
                    robust=False,
                )
            except aiormq.exceptions.ChannelPreconditionFailed as exc:
                mismatch = parse_mismatch(" ".join(str(a) for a in exc.args))
                if mismatch is None or mismatch.argument != "type":
                    raise
                return mismatch.found
    return None
