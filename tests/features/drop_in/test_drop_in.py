"""The same app on ``RabbitBroker`` and on ``HareBroker`` is the same app.

Each test builds one app twice — FastStream's classes, then hare's — and compares, endpoint by
endpoint: the middlewares, what the real broker ends up holding, the middlewares a message
passes through, and the AsyncAPI document (3.0 and 2.6).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import pytest
from faststream import BaseMiddleware
from faststream.rabbit import (
    ExchangeType,
    RabbitBroker,
    RabbitExchange,
    RabbitQueue,
    RabbitRouter,
)
from faststream.specification import AsyncAPI

from faststream_hare import HareBroker, HareRouter, HareTopologyError, PublishResult
from faststream_hare._internal.faststream import middlewares_of
from faststream_hare.retry.guard import DeliveryGuard
from faststream_hare.retry.middleware import RetryMiddleware
from tests.support.rabbit_admin import AMQP_URL, RabbitAdmin
from tests.support.waiting import eventually

KINDS = {"rabbit": (RabbitBroker, RabbitRouter), "hare": (HareBroker, HareRouter)}


def recorder(name: str, events: list[tuple[str, str, str]]) -> type[BaseMiddleware]:
    """A user middleware that notes every message it sees, on entry."""

    class Recorder(BaseMiddleware):
        async def consume_scope(self, call_next: Any, msg: Any) -> Any:
            events.append((name, "consume", msg.raw_message.routing_key))
            return await call_next(msg)

        async def publish_scope(self, call_next: Any, cmd: Any) -> Any:
            events.append((name, "publish", cmd.destination))
            return await call_next(cmd)

    Recorder.__name__ = Recorder.__qualname__ = f"{name.title()}Recorder"
    return Recorder


@dataclass
class App:
    broker: RabbitBroker
    names: str
    orders: Any = None
    events: list[tuple[str, str, str]] = field(default_factory=list)
    audited: list[dict[str, Any]] = field(default_factory=list)

    def normal(self, text: str) -> str:
        return text.replace(self.names, "N")


def build(kind: str, names: str, url: str = AMQP_URL) -> App:
    """The app: plain subscribers and publishers, a handler that publishes, a router."""
    broker_cls, router_cls = KINDS[kind]
    events: list[tuple[str, str, str]] = []
    broker = broker_cls(url, middlewares=[recorder("user", events)], logger=None)
    app = App(broker, names, events=events)
    router = router_cls(prefix=f"{names}.r.")

    @broker.subscriber(f"{names}.orders", exchange=f"{names}.ex")
    @broker.publisher(exchange=f"{names}.out_ex", routing_key=f"{names}.audit")
    async def orders(body: dict[str, Any]) -> dict[str, Any]:
        return {"seen": body["id"]}

    @broker.subscriber(
        RabbitQueue(f"{names}.audit", routing_key=f"{names}.audit"), f"{names}.out_ex"
    )
    async def audit(body: dict[str, Any]) -> None:
        app.audited.append(body)

    topic = RabbitExchange(f"{names}.topic", type=ExchangeType.TOPIC, durable=True)

    @router.subscriber(RabbitQueue("routed", routing_key="k.*"), topic, title="Routed")
    async def routed(body: str) -> None: ...

    router.publisher(routing_key="k.1", exchange=topic, description="to the routed queue")
    broker.include_router(router, middlewares=[recorder("router", events)])
    app.orders = broker.publisher(f"{names}.orders", exchange=f"{names}.ex")
    return app


def endpoints(broker: RabbitBroker) -> list[Any]:
    return [*broker.subscribers, *broker.publishers]


def test_middlewares_are_exactly_the_users_on_every_endpoint(prefix: str) -> None:
    rabbit, hare = build("rabbit", prefix), build("hare", prefix)
    assert [m.__name__ for m in hare.broker.middlewares] == ["UserRecorder"]
    assert len(endpoints(hare.broker)) == len(endpoints(rabbit.broker)) == 6
    for theirs, ours in zip(endpoints(rabbit.broker), endpoints(hare.broker), strict=True):
        names = [m.__name__ for m in middlewares_of(ours)]
        assert names == [m.__name__ for m in middlewares_of(theirs)], ours
    routed = [m.__name__ for m in middlewares_of(hare.broker.subscribers[-1])]
    assert routed == ["UserRecorder", "RouterRecorder"]  # include_router's come after


def test_retry_is_on_hare_subscribers_only(prefix: str) -> None:
    app = build("hare", prefix)
    router = HareRouter()

    @router.subscriber(f"{prefix}.retried", retry_limit=2)
    async def retried(body: str) -> None: ...

    app.broker.include_router(router)
    hare_sub = app.broker.hare_subscribers()
    assert hare_sub == [app.broker.subscribers[-1]]
    guard, *users, retry = middlewares_of(hare_sub[0])
    assert [m.__name__ for m in users] == ["UserRecorder"]
    assert isinstance(guard, DeliveryGuard)  # outside the user's: sees what they raise
    assert isinstance(retry, RetryMiddleware)
    assert all(not isinstance(m, RetryMiddleware) for m in app.broker.middlewares)
    for endpoint in endpoints(app.broker)[:-1]:
        if endpoint is not hare_sub[0]:
            assert not any(isinstance(m, RetryMiddleware) for m in middlewares_of(endpoint))


def topology(admin: RabbitAdmin, app: App) -> dict[str, Any]:
    """What the broker holds under the app's names, with the names made comparable."""
    keys = ("type", "durable", "auto_delete", "arguments")
    exchanges = {app.normal(e["name"]): {k: e[k] for k in keys} for e in admin.exchanges(app.names)}
    queues = {
        app.normal(q["name"]): {k: q.get(k) for k in ("durable", "auto_delete", "arguments")}
        for q in admin.queues(app.names)
    }
    bindings = sorted(tuple(app.normal(part) for part in b) for b in admin.bindings(app.names))
    return {"exchanges": exchanges, "queues": queues, "bindings": bindings}


async def run(app: App, admin: RabbitAdmin) -> dict[str, Any]:
    await app.broker.start()
    try:
        await app.orders.publish({"id": 7})
        await eventually(lambda: app.audited == [{"seen": 7}])
    finally:
        await app.broker.stop()
    return topology(admin, app)


@pytest.mark.rabbit
async def test_same_entities_on_the_broker_and_same_middleware_path(
    prefix: str, admin: RabbitAdmin
) -> None:
    rabbit = build("rabbit", f"{prefix}.rabbit")
    hare = build("hare", f"{prefix}.hare")
    theirs, ours = await run(rabbit, admin), await run(hare, admin)
    assert ours["exchanges"]["N.ex"]["type"] == "direct"  # a plain publisher's, as FastStream
    assert len(ours["exchanges"]) == 3
    assert len(ours["queues"]) == 3
    for kind in ("exchanges", "queues"):
        for name, entity in theirs[kind].items():
            assert ours[kind].get(name) == entity, name
        assert ours[kind].keys() == theirs[kind].keys()
    assert ours["bindings"] == theirs["bindings"]
    path = [(who, what, rabbit.normal(key)) for who, what, key in rabbit.events]
    assert [(who, what, hare.normal(key)) for who, what, key in hare.events] == path
    assert path == [
        ("user", "publish", "N.orders"),
        ("user", "consume", "N.orders"),
        ("user", "publish", "N.audit"),
        ("user", "consume", "N.audit"),
    ]


def documents(broker: RabbitBroker, version: str) -> dict[str, Any]:
    schema = AsyncAPI(broker, schema_version=version).to_specification().to_jsonable()
    return json.loads(json.dumps(schema))  # type: ignore[no-any-return]


@pytest.mark.parametrize("version", ["3.0.0", "2.6.0"])
def test_asyncapi_of_plain_endpoints_is_identical(prefix: str, version: str) -> None:
    theirs = documents(build("rabbit", prefix).broker, version)
    hare = build("hare", prefix)

    @hare.broker.subscriber(f"{prefix}.extra", retry_limit=1)  # adds channels, changes none
    async def extra(body: str) -> None: ...

    ours = documents(hare.broker, version)
    assert ours["servers"] == theirs["servers"]
    assert ours.keys() == theirs.keys()
    for section in ("channels", "operations"):  # 2.6 has its operations inside the channels
        for key, value in theirs.get(section, {}).items():
            assert ours[section].get(key) == value, f"{section} {key}"
    for kind, entries in theirs["components"].items():
        for key, value in entries.items():
            assert ours["components"][kind].get(key) == value, f"components {kind} {key}"
    added = set(ours["channels"]) - set(theirs["channels"])
    assert added == {f"{prefix}.extra:_:Extra", f"{prefix}.extra.dead:_:Extra"}


@pytest.mark.parametrize(
    ("make", "server"),
    [
        (lambda cls: cls(), "localhost:5672"),
        (lambda cls: cls("amqp://u:s3cret@h.example:5673/vh"), "h.example:5673"),
        (lambda cls: cls("amqp://h", port=5999, virtualhost="v2"), "h:5999"),
        (lambda cls: cls(specification_url="amqp://docs.example/x"), "docs.example"),
    ],
)
def test_the_server_is_the_same_as_rabbit_brokers(
    make: Callable[[type[RabbitBroker]], RabbitBroker], server: str
) -> None:
    theirs, ours = documents(make(RabbitBroker), "3.0.0"), documents(make(HareBroker), "3.0.0")
    assert ours["servers"] == theirs["servers"]
    assert ours["servers"]["development"]["host"] == server
    assert "s3cret" not in json.dumps(ours)


def test_a_publishers_exchange_is_declared_as_faststream_declares_it() -> None:
    plain = HareBroker().publisher(exchange="x")
    theirs = RabbitBroker().publisher(exchange="x")
    assert plain.exchange == theirs.exchange
    assert (plain.exchange.type, plain.hare_exchange) == (ExchangeType.DIRECT, None)
    assert hasattr(plain, "publish_message")
    hare = HareBroker().publisher(exchange="x", hare=True)
    assert hare.hare_exchange == "x"


@pytest.mark.rabbit
async def test_a_hare_publisher_keeps_an_existing_exchange_and_declares_a_missing_one(
    prefix: str, admin: RabbitAdmin
) -> None:
    broker = HareBroker(f"{AMQP_URL.rstrip('/')}/?name={prefix}", logger=None)

    @broker.subscriber(f"{prefix}.plain", exchange=f"{prefix}.direct")  # FastStream: direct
    async def plain(body: str) -> None: ...

    broker.publisher(exchange=f"{prefix}.direct", routing_key="a", hare=True)
    broker.publisher(exchange=f"{prefix}.new", routing_key="b", hare=True)
    await broker.start()
    await broker.stop()
    kinds = {e["name"]: (e["type"], e["durable"]) for e in admin.exchanges(prefix)}
    assert kinds == {
        f"{prefix}.direct": ("direct", True),  # RabbitExchange's default: durable
        f"{prefix}.new": ("topic", True),
    }


def hare_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("faststream_hare") and r.levelno >= logging.WARNING
    ]


@pytest.mark.rabbit
async def test_a_plain_publisher_on_a_hare_subscribers_exchange_uses_its_declaration(
    prefix: str, admin: RabbitAdmin, caplog: pytest.LogCaptureFixture
) -> None:
    """The hare subscriber declares ``E`` topic (as HareMq); FastStream would say direct."""
    broker = HareBroker(f"{AMQP_URL.rstrip('/')}/?name={prefix}", logger=None)
    got: list[dict[str, Any]] = []

    @broker.subscriber(
        f"{prefix}.orders", exchange=f"{prefix}.orders_ex", routing_key="order.created", hare=True
    )
    async def handle(body: dict[str, Any]) -> None:
        got.append(body)

    created = broker.publisher("order.created", exchange=f"{prefix}.orders_ex")
    with caplog.at_level(logging.WARNING, logger="faststream_hare"):
        async with broker:
            await broker.start()
            assert await created.publish_message({"id": 1}) == PublishResult.OK
            await created.publish({"id": 2})
            await eventually(lambda: sorted(b["id"] for b in got) == [1, 2])
    assert admin.exchange(f"{prefix}.orders_ex")["type"] == "topic"
    assert hare_warnings(caplog) == []


@pytest.mark.rabbit
async def test_a_plain_publisher_uses_an_exchange_of_another_type_as_it_is(
    prefix: str,
    admin: RabbitAdmin,
    channel: aio_pika.abc.AbstractChannel,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Another service declared ``E`` topic; a plain app with no hare subscriber publishes."""
    exchange = await channel.declare_exchange(
        f"{prefix}.ex", aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(f"{prefix}.seen", durable=True)
    await queue.bind(exchange, routing_key="k")
    broker = HareBroker(f"{AMQP_URL.rstrip('/')}/?name={prefix}", logger=None)
    out = broker.publisher("k", exchange=f"{prefix}.ex")
    with caplog.at_level(logging.WARNING, logger="faststream_hare"):
        async with broker:
            await broker.start()
            assert await out.publish_message({"id": 1}) == PublishResult.OK
            await out.publish({"id": 2})
    assert admin.exchange(f"{prefix}.ex")["type"] == "topic"
    await eventually(lambda: (admin.queue(f"{prefix}.seen") or {}).get("messages") == 2)
    warnings = hare_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert f"'{prefix}.ex' exists as topic" in warnings[0]
    assert "declare it direct" in warnings[0]


@pytest.mark.rabbit
async def test_a_plain_publishers_other_mismatch_still_names_the_fix(
    prefix: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    """Only the type is taken as it is: a durable exchange FastStream would declare transient
    (or the other way round) is still a ``HareTopologyError`` naming both values."""
    await channel.declare_exchange(f"{prefix}.ex", aio_pika.ExchangeType.DIRECT, durable=False)
    broker = HareBroker(f"{AMQP_URL.rstrip('/')}/?name={prefix}", logger=None)
    broker.publisher("k", exchange=f"{prefix}.ex")  # FastStream: direct, durable
    try:
        with pytest.raises(HareTopologyError, match=r"durable"):
            await broker.start()
    finally:
        await broker.stop()
