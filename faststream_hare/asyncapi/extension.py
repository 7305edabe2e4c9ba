"""The ``x-hare`` extension of a hare subscriber's channel: its retry policy and topology.

AsyncAPI's AMQP bindings name one queue and one exchange; hare's delay queues, ``Q.dead``,
the return exchange ``Q`` and the exchange-to-exchange binding have no field there, so they
are written down here, from the same plan ``start()`` declares.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faststream_hare.config.settings import HareSettings
    from faststream_hare.config.subscriber import StreamOffset, SubscriberOptions
    from faststream_hare.topology.plan import TopologyPlan

#: The channel extension's key (AsyncAPI allows ``x-`` fields on a channel).
EXTENSION = "x-hare"


def hare_extension(
    options: SubscriberOptions, plan: TopologyPlan, settings: HareSettings
) -> dict[str, Any]:
    """The ``x-hare`` object of one subscriber, with the broker's settings applied."""
    queues = {queue.name: queue for queue in plan.queues}
    main = queues[plan.queue]
    extension: dict[str, Any] = {
        "queue": plan.queue,
        "queue_type": main.arguments.get("x-queue-type", "classic"),
        "exchange": options.exchange,
        "exchange_type": settings.exchange_type,
        "exchanges": [
            {"name": e.name, "type": e.type, "durable": e.durable} for e in plan.exchanges
        ],
        "bindings": [
            {
                "source": b.source,
                "destination": b.destination,
                "destination_type": "exchange" if b.to_exchange else "queue",
                "routing_key": b.routing_key,
            }
            for b in plan.bindings
        ],
    }
    if options.stream:
        dead = f"{plan.queue}.dead" if options.stream_dead_letter else None
        extension.update(
            stream=True,
            offset=_offset(options.stream_offset),
            consumer_name=options.stream_consumer_name,
            dead_queue=dead,
        )
        return extension
    extension.update(
        retry_limit=settings.retry_limit if options.retry_limit is None else options.retry_limit,
        delays_ms=list(options.delay_cascade_in_ms)
        or [settings.delay_in_ms if options.delay_in_ms is None else options.delay_in_ms],
        delay_queues=[
            {"name": name, "ttl_ms": queues[name].arguments["x-message-ttl"]}
            for name in plan.delay_queues
        ],
        return_exchange=plan.queue,
        dead_queue=plan.dead_queue,
        dead_queue_ttl_ms=settings.message_ttl_ms,
    )
    return extension


def _offset(offset: StreamOffset) -> str | int:
    return offset.isoformat() if isinstance(offset, datetime) else offset
