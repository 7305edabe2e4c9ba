"""The order service of the "first hour" walkthrough (docs: First hour with hare).

One FastAPI app with a ``HareRouter``: ``POST /orders`` publishes through a deduplicating
publisher (Redis when ``HARE_MQ_DEDUP_URL`` is set, else in memory); a payments consumer
retries gateway timeouts after 1 s and 5 s, dead-letters declined cards at once and never
charges one order twice; confirmation e-mails run in an auto-scaled pool; an audit log reads a
stream and resumes by its consumer name; ``/metrics`` serves Prometheus metrics.

Run it with ``uvicorn examples.order_service:app`` (RabbitMQ from ``HARE_MQ_URL``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from faststream.rabbit.fastapi import Logger, RabbitMessage  # not `from faststream import ...`
from prometheus_client import CollectorRegistry, make_asgi_app
from pydantic import BaseModel

from faststream_hare import AutoScaling, Idempotency, Unique
from faststream_hare.fastapi import HareRouter
from faststream_hare.telemetry.prometheus import HareMetrics

SHOP = "ordersvc"  # the exchange every order event goes to
router = HareRouter()  # URL from HARE_MQ_URL / RABBITMQ_URL
registry = CollectorRegistry()
metrics = HareMetrics(registry=registry, broker=router.broker)  # hare_* metrics at /metrics

# A client that retries its POST publishes the order once: the key is the order id.
order_events = router.publisher(
    exchange=SHOP, routing_key="order.created", unique=Unique(period_ms=600_000, keys=["order_id"])
)

charged: list[int] = []
emails: list[int] = []
audit_log: list[int] = []
gateway_timeouts: dict[int, int] = {}  # order id -> how many more times the gateway times out


class Order(BaseModel):
    order_id: int
    amount: int  # cents
    email: str


class CardDeclinedError(Exception):
    """The bank said no: no retry can change that."""


class GatewayTimeoutError(TimeoutError):
    """The payment gateway did not answer: worth another try."""


@router.subscriber(
    f"{SHOP}.payments",
    exchange=SHOP,
    routing_key="order.created",
    retry_limit=2,
    delay_cascade_in_ms=[1_000, 5_000],  # retry 1 after 1 s, retry 2 after 5 s, then Q.dead
    retry_on=(TimeoutError, ConnectionError),  # anything else is dead-lettered at once
    dead_on=(CardDeclinedError,),
    idempotent=Idempotency(keys=["order_id"], period_ms=86_400_000),  # charged once per order
)
async def charge(order: Order, logger: Logger, message: RabbitMessage) -> None:
    if order.amount <= 0:
        msg = f"card declined for order {order.order_id}"
        raise CardDeclinedError(msg)
    if gateway_timeouts.get(order.order_id, 0) > 0:
        gateway_timeouts[order.order_id] -= 1
        msg = "payment gateway timed out"
        raise GatewayTimeoutError(msg)
    charged.append(order.order_id)
    logger.info("charged order %s (message %s)", order.order_id, message.message_id)


@router.subscriber(
    f"{SHOP}.emails",
    exchange=SHOP,
    routing_key="order.created",
    auto_scaling=AutoScaling(min_consumers=1, max_consumers=4, messages_per_consumer=100),
)
async def confirm_by_email(order: Order) -> None:
    emails.append(order.order_id)


@router.subscriber(
    f"{SHOP}.audit",
    exchange=SHOP,
    routing_key="order.*",
    stream=True,
    stream_offset="first",  # the first run reads the whole log
    stream_consumer_name="shop-audit",  # later runs resume after the last event it processed
)
async def audit(event: dict[str, Any]) -> None:
    audit_log.append(event["order_id"])


app = FastAPI(title="order service")
app.include_router(router)
app.mount("/metrics", make_asgi_app(registry))


@app.post("/orders")
async def place_order(order: Order) -> dict[str, str]:
    """``ok``, ``duplicate`` (placed already) or why it was not published."""
    result = await order_events.publish_message(order.model_dump())
    return {"result": result.value}
