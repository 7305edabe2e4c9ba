"""A hare subscriber's AsyncAPI channels: FastStream's own, made true to hare's topology.

FastStream documents the queue and exchange objects a subscriber was given; hare declares
``E`` with ``settings.exchange_type`` and every queue durable, so the bindings are rewritten
from what ``start()`` declares, and ``Q.dead`` (where failed messages end, and what a replay
reads) is documented as a channel of its own.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from faststream.specification.schema import Message, Operation, PublisherSpec, SubscriberSpec
from faststream.specification.schema.bindings import ChannelBinding, OperationBinding, amqp

if TYPE_CHECKING:
    from faststream_hare.config.subscriber import SubscriberOptions

SpecT = TypeVar("SpecT", SubscriberSpec, PublisherSpec)

#: Exchange types that route by the routing key (AsyncAPI drops the address otherwise).
ROUTING_TYPES = frozenset({"default", "direct", "topic"})


def hare_channels(
    base: dict[str, SubscriberSpec],
    *,
    options: SubscriberOptions,
    queue: str,
    exchange_type: str,
    call_name: str,
) -> dict[str, SubscriberSpec]:
    """FastStream's channels of the subscriber with hare's bindings, plus ``Q.dead``."""
    exchange = hare_exchange(options.exchange, exchange_type)
    channels = {key: _declared_as(spec, exchange) for key, spec in base.items()}
    if not options.stream or options.stream_dead_letter:
        payload = next(iter(base.values())).operation.message.payload if base else {}
        key = f"{queue}.dead:_:{call_name}"
        channels[key] = dead_channel(key, queue, payload, _virtual_host(base))
    return channels


def _declared_as(spec: SubscriberSpec, exchange: amqp.Exchange) -> SubscriberSpec:
    return with_exchange(spec, exchange, durable_queue=True)


def with_exchange(spec: SpecT, exchange: amqp.Exchange, *, durable_queue: bool = False) -> SpecT:
    """``spec`` (a subscriber's or publisher's) documenting ``exchange`` as hare declares it."""
    channel = spec.bindings.amqp if spec.bindings else None
    operation = spec.operation.bindings.amqp if spec.operation.bindings else None
    if channel is None or operation is None:
        return spec
    queue = replace(channel.queue, durable=True) if durable_queue else channel.queue
    return replace(
        spec,
        address=spec.address if exchange.type in ROUTING_TYPES else None,
        bindings=ChannelBinding(amqp=replace(channel, queue=queue, exchange=exchange)),
        operation=replace(
            spec.operation,
            bindings=OperationBinding(amqp=replace(operation, queue=queue, exchange=exchange)),
        ),
    )


def hare_exchange(name: str | None, exchange_type: str) -> amqp.Exchange:
    """The exchange ``E`` as hare declares it (durable; the default exchange without a name)."""
    if not name:
        return amqp.Exchange(type="default")
    return amqp.Exchange(type=exchange_type, name=name, durable=True, auto_delete=False)  # type: ignore[arg-type]


def dead_channel(
    key: str, queue: str, payload: dict[str, object], virtual_host: str
) -> SubscriberSpec:
    """``Q.dead``: reached through the default exchange by its name."""
    dead = f"{queue}.dead"
    dead_queue = amqp.Queue(name=dead, durable=True, exclusive=False, auto_delete=False)
    default = amqp.Exchange(type="default")
    return SubscriberSpec(
        address=dead,
        description=(
            f"Dead letters of '{queue}': messages whose retries ran out, or that could not "
            f"be processed at all. broker.republish_dead_messages('{queue}', n) moves them back."
        ),
        operation=Operation(
            message=Message(title=f"{key}:Message", payload=copy.deepcopy(payload)),
            bindings=OperationBinding(
                amqp=amqp.OperationBinding(
                    routing_key=dead,
                    queue=dead_queue,
                    exchange=default,
                    ack=True,
                    reply_to=None,
                    persist=None,
                    mandatory=None,
                    priority=None,
                )
            ),
        ),
        bindings=ChannelBinding(
            amqp=amqp.ChannelBinding(queue=dead_queue, exchange=default, virtual_host=virtual_host)
        ),
    )


def _virtual_host(base: dict[str, SubscriberSpec]) -> str:
    for spec in base.values():
        if spec.bindings and spec.bindings.amqp:
            return spec.bindings.amqp.virtual_host
    return "/"
