"""Scaling out: the same app in several processes, on a RabbitMQ cluster behind HAProxy.

Every process places the same orders: Redis dedup (``HARE_MQ_DEDUP_URL``) lets one publish per
order id through, whichever process tries first. The orders queue is a quorum queue (its delay
queues and ``.dead`` too), replicated on the cluster's nodes; the processes share its work.
``W1`` of the reports queue runs in one process at a time and fails over when that one dies.

    scripts/cluster.sh up          # prints the HAProxy URLs used below
    HARE_MQ_URL=amqp://guest:guest@127.0.0.1:27001/ \\
    HARE_MQ_STREAM_URL=rabbitmq-stream://guest:guest@127.0.0.1:47002/ \\
    HARE_MQ_DEDUP_URL=redis://127.0.0.1:6379/0 \\
    faststream run examples.scaling_out:app --workers 3
"""

from __future__ import annotations

import os
from typing import Any

from faststream import FastStream, Logger

from faststream_hare import HareBroker, PublishResult, Unique

broker = HareBroker()  # URL, stream URL and dedup store from HARE_MQ_* in every process
app = FastStream(broker)

EXCHANGE = "hare_demo.out.orders_ex"
ORDERS = "hare_demo.out.orders"
REPORTS = "hare_demo.out.reports"
#: Each process places the same batch of orders at start: ids ``<batch>-0`` … ``<batch>-<n-1>``.
ORDER_COUNT = int(os.environ.get("HARE_DEMO_ORDERS", "20"))
BATCH = os.environ.get("HARE_DEMO_BATCH", "1")

# No store given: the broker's default, Redis when HARE_MQ_DEDUP_URL is set, so the dedup
# key of an order is shared by every process and host.
orders = broker.publisher(
    exchange=EXCHANGE,
    routing_key="order.created",
    unique=Unique(period_ms=3_600_000, keys=["order_id"]),
)


@broker.subscriber(
    ORDERS,
    exchange=EXCHANGE,
    routing_key="order.created",
    queue_type="quorum",  # Q, Q.delay.* and Q.dead replicated over the cluster
    delay_cascade_in_ms=[1_000, 10_000, 60_000],
    retry_limit=5,
    prefetch_count=10,
)
async def handle_order(order: dict[str, Any], logger: Logger) -> None:
    logger.info("order %s handled by process %d", order["order_id"], os.getpid())


@broker.subscriber(REPORTS, cluster_unique=True)  # one W1 across all processes
async def build_report(request: dict[str, str], logger: Logger) -> None:
    logger.info("report %s built by process %d", request["name"], os.getpid())


@app.after_startup
async def place_orders() -> None:
    results = [
        await orders.publish_message({"order_id": f"{BATCH}-{n}"}) for n in range(ORDER_COUNT)
    ]
    placed = results.count(PublishResult.OK)
    print(f"process {os.getpid()} placed {placed} orders ({len(results) - placed} already placed)")
