"""Handle a redelivered message once (docs: Retry policies, idempotent consumers).

RabbitMQ delivers at least once: a message whose ack was lost with the connection comes again.
With ``idempotent=``, hare remembers each handled ``message_id`` (here for a day, in Redis when
``HARE_MQ_DEDUP_URL`` is set, else in this process's memory) and acks a redelivery without
running the handler again.
"""

from __future__ import annotations

from faststream_hare import HareBroker, Idempotency

broker = HareBroker()
charges: list[str] = []


@broker.subscriber(
    "hare_demo.charges",
    retry_limit=3,
    delay_in_ms=200,
    idempotent=Idempotency(period_ms=86_400_000, lease_ms=30_000),
)
async def charge(payment: dict) -> None:
    charges.append(payment["payment_id"])  # a real app charges the card here


async def pay_twice(payment_id: str) -> None:
    """The same payment sent twice, as a retrying client would: it is charged once."""
    for _ in range(2):
        await broker.publish(
            {"payment_id": payment_id}, queue="hare_demo.charges", message_id=payment_id
        )
