"""Names and the declaration plan of a hare subscriber's topology (DESIGN §2).

The plan is pure data so it can be tested without a broker; ``declare_plan`` sends it.
Everything is declared on a channel of its own, so a 406 from the broker closes only that
channel and is reported as a ``HareTopologyError`` instead of a bare channel error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiormq.exceptions

from faststream_hare._internal.channels import scratch_channel
from faststream_hare.errors import HareTopologyError

if TYPE_CHECKING:
    from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection


def delay_queue_name(queue: str) -> str:
    """The single delay queue used when no cascade is configured."""
    return f"{queue}.delay"


def cascade_queue_name(queue: str, delay_ms: int) -> str:
    """One delay queue per cascade value, e.g. ``orders.delay.5000``."""
    return f"{queue}.delay.{delay_ms}"


def dead_queue_name(queue: str) -> str:
    """The terminal dead-letter queue."""
    return f"{queue}.dead"


def delay_for_retry(cascade: Sequence[int], delay_in_ms: int, retry_number: int) -> int:
    """Delay of retry ``retry_number`` (1-based): ``cascade[min(i-1, len-1)]`` in given order."""
    if not cascade:
        return delay_in_ms
    return cascade[min(max(retry_number, 1) - 1, len(cascade) - 1)]


def delay_queue_for_retry(queue: str, cascade: Sequence[int], retry_number: int) -> str:
    """The delay queue a message waits in before retry ``retry_number``."""
    if not cascade:
        return delay_queue_name(queue)
    return cascade_queue_name(queue, delay_for_retry(cascade, 0, retry_number))


@dataclass(frozen=True)
class ExchangeDecl:
    name: str
    type: str
    durable: bool = True


@dataclass(frozen=True)
class QueueDecl:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    durable: bool = True


@dataclass(frozen=True)
class BindingDecl:
    """``source`` exchange to ``destination`` (a queue, or an exchange when ``to_exchange``)."""

    source: str
    destination: str
    routing_key: str
    to_exchange: bool = False


@dataclass(frozen=True)
class TopologyPlan:
    """Everything one subscriber declares, in declaration order."""

    queue: str
    exchanges: tuple[ExchangeDecl, ...]
    queues: tuple[QueueDecl, ...]
    bindings: tuple[BindingDecl, ...]
    delay_queues: tuple[str, ...] = ()
    dead_queue: str | None = None


def plan_topology(
    *,
    queue: str,
    routing_key: str,
    exchange: str | None,
    exchange_type: str,
    queue_type: str = "classic",
    delay_in_ms: int = 10_000,
    delay_cascade_in_ms: Sequence[int] = (),
    message_ttl_ms: int = 31_449_600_000,
) -> TopologyPlan:
    """Plan a classic/quorum subscriber: E, exchange Q, Q, delay queue(s), Q.dead, bindings."""
    exchanges = [ExchangeDecl(exchange, exchange_type)] if exchange else []
    exchanges.append(ExchangeDecl(queue, exchange_type))
    main_args: dict[str, Any] = {"x-queue-type": "quorum"} if queue_type == "quorum" else {}
    queues = [QueueDecl(queue, main_args)]
    delays: list[str] = []
    if delay_cascade_in_ms:
        for delay in dict.fromkeys(delay_cascade_in_ms):
            delays.append(cascade_queue_name(queue, delay))
            queues.append(QueueDecl(delays[-1], _delay_args(queue, routing_key, delay)))
    else:
        delays.append(delay_queue_name(queue))
        queues.append(QueueDecl(delays[-1], _delay_args(queue, routing_key, delay_in_ms)))
    dead = dead_queue_name(queue)
    queues.append(QueueDecl(dead, {"x-message-ttl": message_ttl_ms}))
    bindings = [BindingDecl(exchange, queue, routing_key, to_exchange=True)] if exchange else []
    bindings.append(BindingDecl(queue, queue, routing_key))
    return TopologyPlan(
        queue=queue,
        exchanges=tuple(exchanges),
        queues=tuple(queues),
        bindings=tuple(bindings),
        delay_queues=tuple(delays),
        dead_queue=dead,
    )


def plan_stream_topology(
    *, queue: str, routing_key: str, exchange: str | None, exchange_type: str
) -> TopologyPlan:
    """Plan a stream subscriber: E (if given), the stream queue, and E → Q."""
    return TopologyPlan(
        queue=queue,
        exchanges=(ExchangeDecl(exchange, exchange_type),) if exchange else (),
        queues=(QueueDecl(queue, {"x-queue-type": "stream"}),),
        bindings=(BindingDecl(exchange, queue, routing_key),) if exchange else (),
    )


def plan_dead_queue_only(*, queue: str, message_ttl_ms: int) -> QueueDecl:
    """``Q.dead`` alone, for a stream subscriber with ``stream_dead_letter=True``."""
    return QueueDecl(dead_queue_name(queue), {"x-message-ttl": message_ttl_ms})


def _delay_args(queue: str, routing_key: str, ttl_ms: int) -> dict[str, Any]:
    return {
        "x-message-ttl": ttl_ms,
        "x-dead-letter-exchange": queue,
        "x-dead-letter-routing-key": routing_key,
    }


async def declare_plan(connection: AbstractRobustConnection, plan: TopologyPlan) -> None:
    """Declare ``plan`` on a channel of its own; a 406 becomes ``HareTopologyError``."""
    async with scratch_channel(connection) as channel:
        await _declare_on(channel, plan)


async def declare_queue(connection: AbstractRobustConnection, decl: QueueDecl) -> None:
    """Declare one queue (used for a stream's opt-in ``Q.dead``)."""
    await declare_plan(
        connection, TopologyPlan(queue=decl.name, exchanges=(), queues=(decl,), bindings=())
    )


async def _declare_on(channel: AbstractRobustChannel, plan: TopologyPlan) -> None:
    for ex in plan.exchanges:
        with _translate_406("exchange", ex.name, {"type": ex.type, "durable": ex.durable}):
            await channel.declare_exchange(ex.name, ex.type, durable=ex.durable, robust=False)
    for q in plan.queues:
        with _translate_406("queue", q.name, q.arguments):
            await channel.declare_queue(
                q.name, durable=q.durable, arguments=q.arguments or None, robust=False
            )
    for b in plan.bindings:
        with _translate_406("binding", f"{b.source} -> {b.destination}", {}):
            if b.to_exchange:
                destination = await channel.get_exchange(b.destination, ensure=False)
                await destination.bind(b.source, routing_key=b.routing_key)
            else:
                target = await channel.get_queue(b.destination, ensure=False)
                await target.bind(b.source, routing_key=b.routing_key)


_INEQUIVALENT = re.compile(
    r"inequivalent arg '(?P<arg>[^']+)' for (?P<kind>queue|exchange) '(?P<name>[^']*)'"
    r".*?received (?P<received>.+?) but current is (?P<current>.+?)\s*$",
    re.DOTALL,
)
_VALUE = re.compile(r"(?:the value )?'(?P<value>[^']*)'")


class _translate_406:  # noqa: N801 - used as a context manager, reads like a statement
    """Turn a broker 406 into ``HareTopologyError`` naming entity, argument and both values."""

    def __init__(self, kind: str, name: str, wanted: dict[str, Any]) -> None:
        self.kind, self.name, self.wanted = kind, name, wanted

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if not isinstance(exc, aiormq.exceptions.ChannelPreconditionFailed):
            return
        text = " ".join(str(a) for a in exc.args)
        found_match = _INEQUIVALENT.search(text)
        if found_match is None:
            message = (
                f"RabbitMQ refused to declare {self.kind} '{self.name}' as hare wants it "
                f"({self.wanted}): {text}; delete it or change the hare options to match."
            )
            raise HareTopologyError(message, entity=self.name) from exc
        argument = found_match["arg"]
        found = _clean(found_match["current"])
        wanted = self.wanted.get(argument, _clean(found_match["received"]))
        message = (
            f"{self.kind.capitalize()} '{self.name}' already exists with {argument}={found!r}, "
            f"but hare declares {argument}={wanted!r}; delete the {self.kind} or change the "
            "hare option to match it."
        )
        raise HareTopologyError(
            message, entity=self.name, argument=argument, found=found, wanted=wanted
        ) from exc


def _clean(raw: str) -> str:
    """``the value '10000' of type 'long'`` → ``10000``; ``none`` stays ``none``."""
    match = _VALUE.search(raw)
    return match["value"] if match else raw.strip()
