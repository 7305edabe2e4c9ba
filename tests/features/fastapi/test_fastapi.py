"""``faststream_hare.fastapi.HareRouter`` in a FastAPI app, against the real RabbitMQ."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import aio_pika
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from faststream.rabbit.fastapi import RabbitRouter
from pydantic import BaseModel

from faststream_hare import HareBroker, HareConfigError, HarePublisher, HareSettings
from faststream_hare.fastapi import HareRouter
from tests.support.amqp import drain_named
from tests.support.pools import queue_state
from tests.support.rabbit_admin import AMQP_URL

pytestmark = pytest.mark.rabbit


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll from the test thread while the app's loop runs in TestClient's thread."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.05)


def ten() -> int:
    return 10


def make_app(prefix: str) -> tuple[FastAPI, HareRouter, dict[str, Any]]:
    router = HareRouter(
        f"{AMQP_URL.rstrip('/')}/?name={prefix}",
        settings=HareSettings(reconnect_interval_ms=200),
        logger=None,
    )
    state: dict[str, Any] = {"done": [], "attempts": 0}

    @router.subscriber(f"{prefix}.orders", exchange=f"{prefix}.ex", retry_limit=1, delay_in_ms=50)
    async def handle(order: dict[str, Any], factor: int = Depends(ten)) -> None:
        state["attempts"] += 1
        if order.get("broken"):
            msg = "broken order"
            raise ValueError(msg)
        state["done"].append(order["n"] * factor)

    orders = router.publisher(exchange=f"{prefix}.ex", routing_key=f"{prefix}.orders", hare=True)
    app = FastAPI()

    @app.post("/orders")
    async def place(order: dict[str, Any]) -> dict[str, str]:
        return {"result": (await orders.publish_message(order)).value}

    app.include_router(router)
    return app, router, state


def test_lifespan_runs_the_broker_depends_resolve_and_failures_reach_the_dead_queue(
    prefix: str,
) -> None:
    app, router, state = make_app(prefix)
    assert isinstance(router.broker, HareBroker)
    with TestClient(app) as client:
        assert asyncio.run(queue_state(f"{prefix}.orders")).consumers == 1  # started
        assert client.post("/orders", json={"n": 1}).json() == {"result": "ok"}
        assert client.post("/orders", json={"n": 2, "broken": True}).json() == {"result": "ok"}
        wait_until(lambda: asyncio.run(queue_state(f"{prefix}.orders.dead")).ready == 1)
        assert state["done"] == [10]  # Depends(ten) resolved in a message handler
        assert state["attempts"] == 3  # n=1 once; n=2 first try + 1 retry
        channels = client.get("/asyncapi.json").json()["channels"]
        assert channels[f"{prefix}.orders:{prefix}.ex:Handle"]["x-hare"]["retry_limit"] == 1
        assert f"{prefix}.orders.dead:_:Handle" in channels
    # the lifespan stopped the broker: the consumer is gone, the dead letter stays
    assert asyncio.run(queue_state(f"{prefix}.orders")).consumers == 0
    assert asyncio.run(queue_state(f"{prefix}.orders.dead")).ready == 1


def test_plain_endpoints_and_publishers_are_rabbit_routers() -> None:
    router = HareRouter()
    plain = router.subscriber("plain_q")
    theirs = RabbitRouter().subscriber("plain_q")
    assert not hasattr(plain, "hare")
    assert (plain.queue, plain.exchange) == (theirs.queue, theirs.exchange)
    publisher = router.publisher(exchange="plain_ex")
    assert isinstance(publisher, HarePublisher)
    assert publisher.exchange.type.value == "direct"  # as FastStream declares a name
    assert publisher.hare_exchange is None
    assert router.publisher(exchange="hare_ex", hare=True).hare_exchange == "hare_ex"


def test_settings_must_be_hare_settings() -> None:
    with pytest.raises(HareConfigError, match="settings must be a HareSettings"):
        HareRouter(settings={"retry_limit": 1})  # type: ignore[arg-type]


class Order(BaseModel):
    n: int


async def publish(queue: str, body: dict[str, Any], message_id: str) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        message = aio_pika.Message(
            json.dumps(body).encode(), message_id=message_id, content_type="application/json"
        )
        await channel.default_exchange.publish(message, routing_key=queue)


def test_a_body_the_handlers_model_rejects_is_poison_under_fastapi(prefix: str) -> None:
    """FastAPI validates the body (``RequestValidationError``): no retry can fix it."""
    router = HareRouter(f"{AMQP_URL.rstrip('/')}/?name={prefix}", logger=None)
    queue = f"{prefix}.typed"
    seen: list[int] = []

    @router.subscriber(queue, retry_limit=3, delay_in_ms=50)
    async def handle(order: Order) -> None:
        seen.append(order.n)

    app = FastAPI()
    app.include_router(router)
    with TestClient(app):
        asyncio.run(publish(queue, {"n": "not a number"}, "bad-1"))
        asyncio.run(publish(queue, {"n": 7}, "good-1"))
        wait_until(lambda: asyncio.run(queue_state(f"{queue}.dead")).ready == 1)
        wait_until(lambda: seen == [7])
    [dead] = asyncio.run(drain_named(f"{queue}.dead"))
    assert dead.message_id == "bad-1"
    assert dead.headers["hare-reason"] == "poison"
    assert dead.headers["hare-exception"] == "RequestValidationError"
    assert "x-death" not in dead.headers  # straight to Q.dead, never through a delay queue


def test_a_validation_error_inside_a_fastapi_handler_is_retried(prefix: str) -> None:
    router = HareRouter(f"{AMQP_URL.rstrip('/')}/?name={prefix}", logger=None)
    queue = f"{prefix}.inner"
    attempts: list[int] = []

    @router.subscriber(queue, retry_limit=1, delay_in_ms=50)
    async def handle(order: Order) -> None:
        attempts.append(order.n)
        Order.model_validate({"n": "raised by the handler's own code"})

    app = FastAPI()
    app.include_router(router)
    with TestClient(app):
        asyncio.run(publish(queue, {"n": 1}, "inner-1"))
        wait_until(lambda: asyncio.run(queue_state(f"{queue}.dead")).ready == 1)
    assert attempts == [1, 1]  # the first try and one retry
    [dead] = asyncio.run(drain_named(f"{queue}.dead"))
    assert dead.headers["hare-reason"] == "retries_exhausted"
