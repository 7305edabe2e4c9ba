"""What ``faststream docs gen examples.asyncapi_app:app`` documents for hare (docs: AsyncAPI).

The server is the URL in force — ``HARE_MQ_URL`` here, since no URL is given — without its
credentials; each hare subscriber's channel carries an ``x-hare`` extension, and its dead
queue is a channel of its own.
"""

from __future__ import annotations

from faststream import FastStream
from pydantic import BaseModel

from faststream_hare import HareBroker

broker = HareBroker()
app = FastStream(broker)


class Invoice(BaseModel):
    invoice_id: int
    total: float


@broker.subscriber(
    "hare_demo.invoices",
    exchange="hare_demo.billing_ex",
    routing_key="invoice.created",
    retry_limit=5,
    delay_cascade_in_ms=[1_000, 10_000],
)
async def bill(invoice: Invoice) -> None:
    """Charge the customer for an invoice."""


@broker.subscriber(
    "hare_demo.billing_audit",
    exchange="hare_demo.billing_ex",
    routing_key="invoice.#",
    stream=True,
    stream_offset="first",
)
async def audit(event: dict) -> None:
    """Keep every billing event."""


receipts = broker.publisher(exchange="hare_demo.receipts_ex", routing_key="receipt.sent", hare=True)
