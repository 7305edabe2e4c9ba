"""examples/outbox_app.py on the real PostgreSQL and RabbitMQ: orders placed over HTTP are
invoiced exactly once each, through the outbox relay and the inbox."""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
from types import ModuleType

import asyncpg
import pytest
from fastapi.testclient import TestClient

from tests.support.postgres import PG_DSN

pytestmark = [pytest.mark.rabbit, pytest.mark.usefixtures("demo_entities")]


def fresh() -> ModuleType:
    sys.modules.pop("examples.outbox_app", None)
    return importlib.import_module("examples.outbox_app")


async def _sql(query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(PG_DSN)
    try:
        return await conn.fetch(query)
    finally:
        await conn.close()


def sql(query: str) -> list[asyncpg.Record]:
    return asyncio.run(_sql(query))


async def _drop(statements: str) -> None:
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(statements)
    finally:
        await conn.close()


def drop(statements: str) -> None:
    asyncio.run(_drop(statements))


def test_orders_placed_over_http_are_published_after_commit_and_invoiced_once() -> None:
    example = fresh()
    asyncio.run(example.outbox.init_schema())  # what `hare outbox init` does
    try:
        with TestClient(example.app) as client:
            placed = [
                client.post("/orders", json={"customer": f"c{n % 2}", "total": n}).json()
                for n in range(1, 6)
            ]
            deadline = time.monotonic() + 20
            while len(sql("SELECT 1 FROM hare_demo_invoices")) < 5:
                assert time.monotonic() < deadline, "not every order was invoiced"
                time.sleep(0.05)
            time.sleep(0.3)
        invoices = sql("SELECT order_id, total FROM hare_demo_invoices ORDER BY total")
        assert [(r["order_id"], r["total"]) for r in invoices] == [
            (p["order_id"], n) for n, p in enumerate(placed, start=1)
        ]
        assert sql("SELECT count(*) AS n FROM hare_demo_outbox")[0]["n"] == 0
        assert sql("SELECT count(*) AS n FROM hare_demo_inbox")[0]["n"] == 5
    finally:
        drop(
            "DROP TABLE IF EXISTS hare_demo_orders, hare_demo_invoices, hare_demo_outbox, "
            "hare_demo_inbox; DROP FUNCTION IF EXISTS hare_demo_outbox_notify()"
        )
