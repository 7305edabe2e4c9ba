"""A batch with ``publish_many``: many confirms in flight, one answer per message.

Run it against a local RabbitMQ with ``faststream run examples.publish_many:app``.
"""

from __future__ import annotations

from collections import Counter

from faststream import FastStream

from faststream_hare import HareBroker, PublishResult, Unique

broker = HareBroker()
app = FastStream(broker)

# An invoice id is published at most once an hour, even when a batch is sent twice.
invoices = broker.publisher(
    exchange="hare_demo.billing_ex",
    routing_key="invoice.issued",
    unique=Unique(period_ms=3_600_000, keys=["invoice_id"]),
)

billed: list[int] = []


@broker.subscriber(
    "hare_demo.billing_invoices",
    exchange="hare_demo.billing_ex",
    routing_key="invoice.issued",
    prefetch_count=50,
)
async def bill(invoice: dict[str, int]) -> None:
    billed.append(invoice["invoice_id"])
    if len(billed) % 100 == 0:
        print(f"billed {len(billed)} invoices")


@app.after_startup
async def issue_invoices() -> dict[str, int]:
    batch = [{"invoice_id": n, "amount": 10 * n} for n in range(1, 201)]
    batch.append({"invoice_id": 7, "amount": 70})  # a client sent this one twice
    # up to 64 publishes wait for their confirm at once; one result per message, in order
    results = await invoices.publish_many(batch, max_in_flight=64)
    # not confirmed: keep these and publish them again later (their claims were released)
    retry_later = [
        m for m, r in zip(batch, results, strict=True) if r is PublishResult.NOT_CONNECTED
    ]
    counts = dict(Counter(result.value for result in results))
    print("published:", counts, "to retry:", len(retry_later))  # {'ok': 200, 'duplicate': 1}
    return counts
