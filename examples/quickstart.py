"""faststream-hare quickstart: retries through delay queues, then a dead-letter queue.

Run it against a local RabbitMQ with ``faststream run examples.quickstart:app``.
"""

from __future__ import annotations

from faststream import FastStream, Logger

from faststream_hare import HareBroker

broker = HareBroker()  # URL from HARE_MQ_URL / RABBITMQ_URL, default amqp://guest:guest@localhost
app = FastStream(broker)

attempts: dict[int, int] = {}


@broker.subscriber(
    "hare_demo.orders",
    exchange="hare_demo.orders_ex",
    routing_key="order.created",
    retry_limit=3,
    delay_cascade_in_ms=[500, 1_000, 2_000],
)
async def handle_order(order: dict, logger: Logger) -> None:
    """Orders marked ``flaky`` fail twice, ``broken`` ones always: they end in the dead queue."""
    number = order["id"]
    attempts[number] = attempts.get(number, 0) + 1
    if order.get("broken") or (order.get("flaky") and attempts[number] <= 2):
        msg = f"order {number} could not be charged (attempt {attempts[number]})"
        raise RuntimeError(msg)
    logger.info("order %s processed after %s attempt(s)", number, attempts[number])


@app.after_startup
async def place_orders() -> None:
    for order in ({"id": 1}, {"id": 2, "flaky": True}, {"id": 3, "broken": True}):
        await broker.publish(order, exchange="hare_demo.orders_ex", routing_key="order.created")
