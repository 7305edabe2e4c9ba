"""examples/order_service.py: in memory (TestRabbitBroker), and on RabbitMQ with Redis."""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
import time
import uuid
from types import ModuleType

import httpx
import pytest
from faststream.rabbit import TestRabbitBroker

from faststream_hare.testing import dead_letters
from tests.support.broker import REDIS_URL
from tests.support.pools import queue_state

PAYMENTS = "ordersvc.payments"


def fresh() -> ModuleType:
    sys.modules.pop("examples.order_service", None)
    return importlib.import_module("examples.order_service")


def order(order_id: int, amount: int = 1_250) -> dict[str, object]:
    return {"order_id": order_id, "amount": amount, "email": f"buyer{order_id}@example.com"}


async def test_order_service_in_memory(caplog: pytest.LogCaptureFixture) -> None:
    shop = fresh()
    shop.gateway_timeouts[3] = 2  # order 3: the gateway times out twice, then charges it
    async with TestRabbitBroker(shop.router.broker):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=shop.app), base_url="http://t")
        async with client:
            with caplog.at_level(logging.INFO):
                results = [
                    (await client.post("/orders", json=body)).json()["result"]
                    for body in (order(1), order(1), order(2, amount=0), order(3))
                ]
            invalid = await client.post("/orders", json={"order_id": "x"})
    assert results == ["ok", "duplicate", "ok", "ok"]
    assert invalid.status_code == 422  # FastAPI refuses it: nothing is published
    assert shop.charged == [1, 3]
    assert sorted(shop.emails) == [1, 2, 3]
    assert shop.audit_log == [1, 2, 3]
    [declined] = dead_letters(shop.router.broker, PAYMENTS)
    assert declined.json()["order_id"] == 2
    assert declined.headers["hare-reason"] == "unrecoverable"
    lines = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert lines == [
        f"retry 1/2 in 1000 ms via {PAYMENTS}.delay.1000 "
        "(GatewayTimeoutError: payment gateway timed out)",
        f"retry 2/2 in 5000 ms via {PAYMENTS}.delay.5000 "
        "(GatewayTimeoutError: payment gateway timed out)",
    ]


@pytest.fixture
def redis_dedup(monkeypatch: pytest.MonkeyPatch) -> str:
    """The example's stores in Redis (as in production), for this test."""
    monkeypatch.setenv("HARE_MQ_DEDUP_URL", REDIS_URL)
    return REDIS_URL


def dead_count() -> int:
    return asyncio.run(queue_state(f"{PAYMENTS}.dead")).ready


@pytest.mark.rabbit
@pytest.mark.usefixtures("order_service_entities", "redis_dedup")
def test_order_service_on_rabbitmq_with_redis() -> None:
    from fastapi.testclient import TestClient

    shop = fresh()
    base = uuid.uuid4().int % 1_000_000_000  # Redis remembers order ids across runs
    ids = [base + n for n in range(5)]
    shop.gateway_timeouts[ids[1]] = 1  # retried once after 1 s, then charged
    with TestClient(shop.app) as client:
        results = [client.post("/orders", json=order(i)).json()["result"] for i in ids]
        assert client.post("/orders", json=order(ids[0])).json() == {"result": "duplicate"}
        assert client.post("/orders", json=order(base + 9, amount=-1)).json()["result"] == "ok"
        deadline = time.monotonic() + 20
        while len(shop.charged) < 5 or dead_count() != 1 or len(shop.audit_log) < 6:
            assert time.monotonic() < deadline, (shop.charged, shop.audit_log)
            time.sleep(0.05)
        metrics = client.get("/metrics").text
    assert results == ["ok"] * 5
    assert sorted(shop.charged) == ids  # each order charged exactly once
    assert sorted(shop.emails) == sorted([*ids, base + 9])
    assert sorted(shop.audit_log) == sorted([*ids, base + 9])
    assert f'hare_retries_total{{delay_ms="1000",queue="{PAYMENTS}"}} 1.0' in metrics
    assert 'hare_dead_lettered_total{exception="CardDeclinedError"' in metrics
