"""Stream subscribers: replay an event log, resume where you stopped, survive bad events.

Run it against a local RabbitMQ (stream plugin on port 5552) with
``faststream run examples.streams:app``; stop it and start it again: the audit log resumes right
after the last event it processed.
"""

from __future__ import annotations

import logging
from typing import Any

from faststream import FastStream

from faststream_hare import HareBroker, signals

logger = logging.getLogger("examples.streams")

broker = HareBroker()  # the stream protocol uses the AMQP URL's host, vhost and credentials
app = FastStream(broker)

EVENTS = "hare_demo.streams.events"  # a stream queue: an append-only log every reader replays
EXCHANGE = "hare_demo.streams_ex"
audit_log: list[dict[str, Any]] = []
dashboard: list[str] = []


@broker.subscriber(
    EVENTS,
    exchange=EXCHANGE,
    routing_key="order.*",
    stream=True,
    stream_offset="first",  # the first run replays the whole log
    stream_consumer_name="audit",  # later runs resume after the last processed event
    stream_dead_letter=True,  # a failing event is copied to hare_demo.streams.events.dead
)
async def audit(event: dict[str, Any]) -> None:
    if event.get("total", 0) < 0:
        msg = f"order {event['id']} has a negative total"
        raise ValueError(msg)  # logged, signalled, dead-lettered; the audit moves on
    audit_log.append(event)


@broker.subscriber(EVENTS, exchange=EXCHANGE, routing_key="order.*", stream=True)
async def live_dashboard(event: dict[str, Any]) -> None:
    """A second reader of the same log; stream_offset="next" (the default): new events only."""
    dashboard.append(f"order {event['id']}: {event['status']}")


@signals.stream_message_failed.connect
def report_failure(sender: Any, *, measurements: dict[str, Any], metadata: dict[str, Any]) -> None:
    logger.warning(
        "stream %s: event at offset %s failed (%s)",
        metadata["queue"],
        metadata["offset"],
        metadata["exception"],
    )


async def publish_orders(*orders: dict[str, Any]) -> None:
    for order in orders:
        await broker.publish(order, exchange=EXCHANGE, routing_key=f"order.{order['status']}")


@app.after_startup
async def seed() -> None:
    await publish_orders(
        {"id": 1, "status": "created", "total": 30},
        {"id": 1, "status": "paid", "total": 30},
        {"id": 2, "status": "created", "total": -5},
    )
