"""A deduplicating publisher: ``publish_message`` says what happened to every message.

Run it against a local RabbitMQ with ``faststream run examples.publishing:app``.
"""

from __future__ import annotations

from faststream import FastStream, Logger

from faststream_hare import HareBroker, PublishResult, Unique

broker = HareBroker()
app = FastStream(broker)

# One order id is published at most once a minute, whatever else the message says.
orders = broker.publisher(
    exchange="hare_demo.shop_ex",
    routing_key="order.created",
    unique=Unique(period_ms=60_000, keys=["order_id"]),
)

shipped: list[dict] = []


@broker.subscriber(
    "hare_demo.shop_orders",
    exchange="hare_demo.shop_ex",
    routing_key="order.created",
    retry_limit=3,
)
async def ship(order: dict, logger: Logger) -> None:
    shipped.append(order)
    logger.info("shipping order %s", order["order_id"])


async def place(order: dict) -> PublishResult:
    """Never raises for these outcomes: every one is an answer the caller can act on."""
    result = await orders.publish_message(order)
    if result is PublishResult.NOT_CONNECTED:
        ...  # the broker did not confirm it: keep the order and try again later
    return result


@app.after_startup
async def place_orders() -> list[PublishResult]:
    results = [
        await place({"order_id": 1, "total": 25}),
        await place({"order_id": 1, "total": 25, "retry": True}),  # a client retried: DUPLICATE
        await place({"order_id": 2, "total": 40}),
    ]
    print("published:", [r.value for r in results])  # ['ok', 'duplicate', 'ok']
    return results
