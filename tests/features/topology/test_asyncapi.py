"""AsyncAPI of a HareBroker (3.0 and 2.6): the server in force, hare's queues, ``x-hare``.

Generated with FastStream's own specification API and, for the example, with
``faststream docs gen``; no broker is needed to generate a document.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from faststream import FastStream
from faststream.specification import AsyncAPI

from faststream_hare import HareBroker, HareRouter, HareSettings
from faststream_hare.asyncapi import HareAsyncAPI

ROOT = Path(__file__).resolve().parents[3]
VERSIONS = ["3.0.0", "2.6.0"]


def document(broker: HareBroker, version: str) -> dict[str, Any]:
    """What ``faststream docs gen`` writes for ``FastStream(broker, specification=...)``."""
    app = FastStream(broker, specification=AsyncAPI(schema_version=version))
    return json.loads(json.dumps(app.schema.to_specification().to_jsonable()))  # type: ignore[no-any-return]


def amqp(channel: dict[str, Any]) -> dict[str, Any]:
    return channel["bindings"]["amqp"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_hare_subscriber_documents_its_topology_and_retry_policy(version: str) -> None:
    broker = HareBroker(
        "amqp://guest:guest@localhost:5672/",
        settings=HareSettings(exchange_type="direct", retry_limit=4, delay_in_ms=2_000),
    )

    @broker.subscriber("orders", exchange="orders_ex", routing_key="order.created", hare=True)
    async def handle(order: dict[str, Any]) -> None: ...

    channels = document(broker, version)["channels"]
    assert set(channels) == {"orders:orders_ex:Handle", "orders.dead:_:Handle"}
    main = channels["orders:orders_ex:Handle"]
    assert main["x-hare"] == {
        "queue": "orders",
        "queue_type": "classic",
        "exchange": "orders_ex",
        "exchange_type": "direct",
        "exchanges": [
            {"name": "orders_ex", "type": "direct", "durable": True},
            {"name": "orders", "type": "direct", "durable": True},
        ],
        "bindings": [
            {
                "source": "orders_ex",
                "destination": "orders",
                "destination_type": "exchange",
                "routing_key": "order.created",
            },
            {
                "source": "orders",
                "destination": "orders",
                "destination_type": "queue",
                "routing_key": "order.created",
            },
        ],
        "retry_limit": 4,
        "delays_ms": [2_000],
        "delay_queues": [{"name": "orders.delay", "ttl_ms": 2_000}],
        "return_exchange": "orders",
        "dead_queue": "orders.dead",
        "dead_queue_ttl_ms": 31_449_600_000,
    }
    assert amqp(main)["queue"]["name"] == "orders"
    assert amqp(main)["queue"]["durable"] is True
    dead = channels["orders.dead:_:Handle"]
    assert amqp(dead)["queue"]["name"] == "orders.dead"
    assert "republish_dead_messages('orders'" in dead["description"]
    assert "x-hare" not in dead
    if version == "2.6.0":  # 2.6 also shows the exchange a subscriber's queue is bound to
        assert amqp(main)["exchange"] == {
            "name": "orders_ex",
            "type": "direct",
            "durable": True,
            "autoDelete": False,
            "vhost": "/",
        }


@pytest.mark.parametrize("version", VERSIONS)
def test_a_cascade_on_a_quorum_queue(version: str) -> None:
    broker = HareBroker("amqp://localhost/")

    @broker.subscriber("jobs", retry_limit=3, delay_cascade_in_ms=[500, 5_000], queue_type="quorum")
    async def job(body: str) -> None: ...

    extension = document(broker, version)["channels"]["jobs:_:Job"]["x-hare"]
    assert (extension["queue_type"], extension["retry_limit"]) == ("quorum", 3)
    assert extension["delays_ms"] == [500, 5_000]
    assert extension["delay_queues"] == [
        {"name": "jobs.delay.500", "ttl_ms": 500},
        {"name": "jobs.delay.5000", "ttl_ms": 5_000},
    ]
    assert extension["exchange"] is None
    assert [b["source"] for b in extension["bindings"]] == ["jobs"]  # no E: only exchange Q


@pytest.mark.parametrize("version", VERSIONS)
def test_a_stream_subscriber_documents_its_stream_and_offset(version: str) -> None:
    broker = HareBroker("amqp://localhost/")

    @broker.subscriber("events", exchange="events_ex", stream=True, stream_offset=42)
    async def audit(event: dict[str, Any]) -> None: ...

    @broker.subscriber(
        "named",
        stream=True,
        stream_consumer_name="auditor",
        stream_offset="first",
        stream_dead_letter=True,
    )
    async def named(event: dict[str, Any]) -> None: ...

    channels = document(broker, version)["channels"]
    events = channels["events:events_ex:Audit"]["x-hare"]
    assert {k: events[k] for k in ("queue_type", "stream", "offset", "dead_queue")} == {
        "queue_type": "stream",
        "stream": True,
        "offset": 42,
        "dead_queue": None,
    }
    assert "retry_limit" not in events
    assert "events.dead:_:Audit" not in channels
    named_ext = channels["named:_:Named"]["x-hare"]
    assert (named_ext["consumer_name"], named_ext["offset"]) == ("auditor", "first")
    assert named_ext["dead_queue"] == "named.dead"
    assert "named.dead:_:Named" in channels


@pytest.mark.parametrize("version", VERSIONS)
def test_the_server_is_settings_url_without_credentials(
    version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARE_MQ_URL", "amqps://shop:s3cret@rabbit.internal:5671/shop")
    broker = HareBroker()  # resolved from the environment, without connecting

    @broker.subscriber("orders", retry_limit=1)
    async def handle(order: dict[str, Any]) -> None: ...

    doc = document(broker, version)
    [server] = doc["servers"].values()
    if version == "3.0.0":
        assert (server["host"], server["pathname"]) == ("rabbit.internal:5671", "/shop")
    else:
        assert server["url"] == "amqps://rabbit.internal:5671/shop"
    assert server["protocol"] == "amqps"
    assert amqp(doc["channels"]["orders:_:Handle"])["queue"]["vhost"] == "/shop"
    text = json.dumps(doc)
    assert "s3cret" not in text
    assert "shop:" not in text


def test_settings_given_to_the_broker_name_the_server() -> None:
    broker = HareBroker(settings=HareSettings(url="amqp://u:p@mq.example:5999/"))
    [server] = document(broker, "3.0.0")["servers"].values()
    assert server["host"] == "mq.example:5999"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_hare_publisher_documents_its_exchange_as_declared(version: str) -> None:
    broker = HareBroker("amqp://localhost/", settings=HareSettings(exchange_type="fanout"))
    broker.publisher(exchange="fan_ex", routing_key="x", hare=True)
    broker.publisher(exchange="plain_ex", routing_key="y")
    channels = document(broker, version)["channels"]
    hare = amqp(channels["x:fan_ex:Publisher"])["exchange"]
    plain = amqp(channels["y:plain_ex:Publisher"])["exchange"]
    assert (hare["type"], hare["durable"]) == ("fanout", True)
    assert plain["type"] == "direct"
    if version == "3.0.0":
        assert "address" not in channels["x:fan_ex:Publisher"]  # fanout ignores routing keys


def test_hare_asyncapi_can_be_given_and_a_custom_factory_is_kept() -> None:
    broker = HareBroker("amqp://localhost/")

    @broker.subscriber("q", retry_limit=1)
    async def handle(body: str) -> None: ...

    given = HareAsyncAPI(broker, schema_version="2.6.0", title="Shop")
    doc = given.to_specification().to_jsonable()
    assert doc["info"]["title"] == "Shop"
    assert doc["channels"]["q:_:Handle"]["x-hare"]["retry_limit"] == 1

    class Custom(AsyncAPI):
        pass

    custom = Custom()
    app = FastStream(broker, specification=custom)
    assert app.schema is custom
    assert type(FastStream(HareBroker()).schema) is HareAsyncAPI


def test_a_subscriber_left_out_of_the_schema_leaves_out_its_dead_queue_too() -> None:
    broker = HareBroker("amqp://localhost/")

    @broker.subscriber("hidden", retry_limit=1, include_in_schema=False)
    async def hidden(body: str) -> None: ...

    @broker.subscriber("shown", retry_limit=1)
    async def shown(body: str) -> None: ...

    channels = document(broker, "3.0.0")["channels"]
    assert set(channels) == {"shown:_:Shown", "shown.dead:_:Shown"}


def test_faststream_docs_gen_documents_the_example(tmp_path: Path) -> None:
    env = {**os.environ, "HARE_MQ_URL": "amqp://billing:s3cret@mq.internal:5672/billing"}
    out = tmp_path / "asyncapi.json"
    command = ["docs", "gen", "examples.asyncapi_app:app", "--out", str(out)]
    result = subprocess.run(
        [sys.executable, "-m", "faststream", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    assert doc["servers"]["development"]["host"] == "mq.internal:5672"
    channels = doc["channels"]
    invoices = channels["hare_demo.invoices:hare_demo.billing_ex:Bill"]
    assert invoices["x-hare"]["delays_ms"] == [1_000, 10_000]
    assert invoices["x-hare"]["dead_queue"] == "hare_demo.invoices.dead"
    assert "hare_demo.invoices.dead:_:Bill" in channels
    audit = channels["hare_demo.billing_audit:hare_demo.billing_ex:Audit"]["x-hare"]
    assert (audit["stream"], audit["offset"]) == (True, "first")
    assert "Invoice" in json.dumps(doc["components"]["schemas"])
    assert "s3cret" not in out.read_text() + result.stdout + result.stderr


def test_a_routers_prefix_is_in_every_hare_name() -> None:
    broker = HareBroker("amqp://localhost/")
    router = HareRouter(prefix="billing.")

    @router.subscriber("invoices", exchange="billing_ex", retry_limit=2)
    async def handle(invoice: dict[str, Any]) -> None: ...

    broker.include_router(router)
    channels = document(broker, "3.0.0")["channels"]
    assert set(channels) == {"billing.invoices:billing_ex:Handle", "billing.invoices.dead:_:Handle"}
    extension = channels["billing.invoices:billing_ex:Handle"]["x-hare"]
    assert (extension["queue"], extension["dead_queue"]) == (
        "billing.invoices",
        "billing.invoices.dead",
    )
    assert extension["delay_queues"][0]["name"] == "billing.invoices.delay"
