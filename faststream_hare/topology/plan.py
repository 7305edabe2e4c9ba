"""The declaration plan of a hare subscriber's topology: pure data.

Tested without a broker; ``topology.declare`` sends it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from faststream_hare.contract.names import cascade_queue_name, dead_queue_name, delay_queue_name
from faststream_hare.topology.delivery_limit import ARGUMENT


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
    delivery_limit: int | None = None,
) -> TopologyPlan:
    """Plan a classic/quorum subscriber: E, exchange Q, Q, delay queue(s), Q.dead, bindings.

    ``delivery_limit`` is the ``x-delivery-limit`` of a quorum ``Q`` and ``Q.dead`` (the
    queues consumers read; see ``delivery_limit.py``); delay queues have no consumers.
    """
    exchanges = [ExchangeDecl(exchange, exchange_type)] if exchange else []
    exchanges.append(ExchangeDecl(queue, exchange_type))
    quorum = queue_type == "quorum"
    kind: dict[str, Any] = {"x-queue-type": "quorum"} if quorum else {}
    read: dict[str, Any] = dict(kind)
    if quorum and delivery_limit is not None:
        read[ARGUMENT] = delivery_limit
    queues = [QueueDecl(queue, dict(read))]
    delays: list[str] = []
    for name, delay in _delay_queues(queue, delay_in_ms, delay_cascade_in_ms):
        delays.append(name)
        queues.append(QueueDecl(name, {**kind, **_delay_args(queue, routing_key, delay, quorum)}))
    dead = dead_queue_name(queue)
    queues.append(QueueDecl(dead, {**read, "x-message-ttl": message_ttl_ms}))
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
    *,
    queue: str,
    routing_key: str,
    exchange: str | None,
    exchange_type: str,
    initial_cluster_size: int | None = None,
) -> TopologyPlan:
    """Plan a stream subscriber: E (if given), the stream queue, and E → Q.

    ``initial_cluster_size`` is opt-in: RabbitMQ's default already places the stream on every
    node, and declaring it on a stream that exists without it is a 406.
    """
    arguments: dict[str, Any] = {"x-queue-type": "stream"}
    if initial_cluster_size is not None:
        arguments["x-initial-cluster-size"] = initial_cluster_size
    return TopologyPlan(
        queue=queue,
        exchanges=(ExchangeDecl(exchange, exchange_type),) if exchange else (),
        queues=(QueueDecl(queue, arguments),),
        bindings=(BindingDecl(exchange, queue, routing_key),) if exchange else (),
    )


def plan_dead_queue_only(*, queue: str, message_ttl_ms: int) -> QueueDecl:
    """``Q.dead`` alone, for a stream subscriber with ``stream_dead_letter=True``."""
    return QueueDecl(dead_queue_name(queue), {"x-message-ttl": message_ttl_ms})


def _delay_queues(queue: str, delay_in_ms: int, cascade: Sequence[int]) -> list[tuple[str, int]]:
    """(name, delay) of each delay queue: one per distinct cascade value, or ``Q.delay``."""
    if cascade:
        return [(cascade_queue_name(queue, delay), delay) for delay in dict.fromkeys(cascade)]
    return [(delay_queue_name(queue), delay_in_ms)]


def _delay_args(queue: str, routing_key: str, ttl_ms: int, quorum: bool) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "x-message-ttl": ttl_ms,
        "x-dead-letter-exchange": queue,
        "x-dead-letter-routing-key": routing_key,
    }
    if quorum:
        # an expiring copy is re-published with confirms, so a node failure cannot lose it
        # on its way back to Q (at-least-once needs reject-publish overflow)
        arguments["x-dead-letter-strategy"] = "at-least-once"
        arguments["x-overflow"] = "reject-publish"
    return arguments
