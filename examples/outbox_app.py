"""A FastAPI order service with a transactional outbox and an inbox on PostgreSQL (docs: Outbox).

Create hare's tables once with ``hare outbox init examples.outbox_app:app``, then run
``uvicorn examples.outbox_app:app``. ``POST /orders`` stores the order and its event in one
transaction; the relay (started with the broker) publishes the event after the commit; the
invoicing handler writes each invoice in the same transaction as its inbox mark, so a
redelivered event never invoices twice.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI

from faststream_hare import Idempotency
from faststream_hare.fastapi import HareRouter
from faststream_hare.outbox import Outbox, PostgresStore

DSN = os.environ.get("HARE_DEMO_DSN", "postgresql://postgres@127.0.0.1:5432/test")

router = HareRouter()  # the URL from HARE_MQ_URL / RABBITMQ_URL, as HareBroker()
outbox = Outbox(router.broker, dsn=DSN, table="hare_demo_outbox", inbox_table="hare_demo_inbox")
inbox = PostgresStore(dsn=DSN, table="hare_demo_inbox")

# the app's own tables (your migrations create yours)
APP_TABLES = """
CREATE TABLE IF NOT EXISTS hare_demo_orders (id text PRIMARY KEY, customer text, total int);
CREATE TABLE IF NOT EXISTS hare_demo_invoices (order_id text PRIMARY KEY, total int);
"""


@router.subscriber(
    "hare_demo.invoicing",
    exchange="hare_demo.orders_ex",
    routing_key="order.created",
    retry_limit=3,
    delay_in_ms=200,
    idempotent=Idempotency(86_400_000, store=inbox),
)
async def invoice(order: dict) -> None:
    # this insert commits together with the inbox's "done" mark, or not at all
    await inbox.connection().execute(
        "INSERT INTO hare_demo_invoices (order_id, total) VALUES ($1, $2)",
        order["order_id"],
        order["total"],
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(DSN, min_size=1, max_size=10)
    await app.state.pool.execute(APP_TABLES)
    try:
        yield
    finally:
        await inbox.aclose()
        await app.state.pool.close()


app = FastAPI(lifespan=lifespan)
app.include_router(router)


@app.post("/orders")
async def place_order(order: dict) -> dict:
    order_id = f"order-{uuid.uuid4().hex[:8]}"
    async with app.state.pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO hare_demo_orders VALUES ($1, $2, $3)",
            order_id,
            order["customer"],
            order["total"],
        )
        await outbox.add(  # published after the commit; a rollback leaves no event
            conn,
            {"order_id": order_id, "total": order["total"]},
            exchange="hare_demo.orders_ex",
            routing_key="order.created",
            message_id=order_id,
            key=order["customer"],  # one customer's events keep their commit order
        )
    return {"order_id": order_id}
