"""Retry what is worth retrying (docs: Retry policies).

A timeout from the shipping API is retried: at once in process, then with exponential back-off
through the delay queues. A missing field can never succeed: it goes to ``Q.dead`` at once with
``hare-reason: unrecoverable``.
"""

from __future__ import annotations

from faststream_hare import HareBroker, backoff

broker = HareBroker()
shipped: list[dict] = []
api_failures_left = 0  # the shipping API times out this many times (set by the caller)


class ShippingTimeoutError(TimeoutError):
    """The shipping API did not answer in time."""


@broker.subscriber(
    "hare_demo.shipments",
    retry_limit=4,
    delay_cascade_in_ms=backoff(first_ms=100, factor=2, max_ms=400, steps=4),  # 100 200 400 400
    retry_on=(TimeoutError, ConnectionError),  # worth another try
    dead_on=(KeyError,),  # a malformed order: no retry can fix it
    immediate_retries=1,  # one quick re-run in process before the first delayed retry
)
async def ship(order: dict) -> None:
    global api_failures_left
    address = order["address"]  # KeyError: dead-lettered at once, "unrecoverable"
    if api_failures_left > 0:
        api_failures_left -= 1
        msg = "shipping API timed out"
        raise ShippingTimeoutError(msg)
    shipped.append({"id": order["id"], "address": address})
