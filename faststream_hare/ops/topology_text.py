"""``hare topology``: what each hare subscriber of an app declares, as text."""

from __future__ import annotations

from faststream_hare.broker import HareBroker


def describe_topology(broker: HareBroker) -> str:
    """One block per hare subscriber: exchanges, queues with arguments, bindings."""
    settings = broker.active_settings
    blocks = []
    for subscriber in sorted(broker.hare_subscribers(), key=lambda s: s.queue_name):
        plan = subscriber.plan(settings)
        lines = [f"{subscriber.queue_name}:"]
        lines += [f"  exchange {e.name} ({e.type}, durable)" for e in plan.exchanges]
        lines += [f"  queue {q.name} {q.arguments or ''}".rstrip() for q in plan.queues]
        lines += [
            f"  bind {b.source} -> {'exchange' if b.to_exchange else 'queue'} {b.destination} "
            f"({b.routing_key})"
            for b in plan.bindings
        ]
        if subscriber.hare.queue_type == "quorum" and not subscriber.hare.stream:
            lines.append(
                "  on RabbitMQ 4.0 and later, the queue and its dead queue also declare "
                "x-delivery-limit: -1 (no limit)"
            )
        blocks.append("\n".join(lines))
    return "\n".join(blocks) if blocks else "no hare subscribers"
