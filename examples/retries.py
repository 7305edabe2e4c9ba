"""Retries with a delay cascade, dead letters and replay (docs: Retries and dead letters)."""

from __future__ import annotations

from faststream_hare import HareBroker

broker = HareBroker()
charged: list[dict] = []
payment_service_up = False


@broker.subscriber(
    "hare_demo.payments",
    exchange="hare_demo.payments_ex",
    routing_key="payment.requested",
    prefetch_count=10,
    retry_limit=2,  # the handler sees a message at most 3 times
    delay_cascade_in_ms=[100, 300],  # retry 1 waits 100 ms, retry 2 (and later) 300 ms
)
async def charge(payment: dict) -> None:
    if not payment_service_up:
        msg = "payment service unavailable"
        raise ConnectionError(msg)
    charged.append(payment)


async def replay_after_outage() -> int:
    """Once the outage is over, move dead payments back to the work queue."""
    global payment_service_up
    payment_service_up = True
    return await broker.republish_dead_messages("hare_demo.payments", count=100)
