"""A named stream subscriber across link cuts: every offset processed, none skipped.

The stream port is behind a FaultProxy (``HareSettings.stream_url``); AMQP goes direct. Only
rstream's locator connection goes through the proxy: the subscription's own connection goes to
the node's advertised host (see ``test_stream_connections_go_through_stream_url``), so a cut
aborts every connection through the proxy *and* closes the subscriber's stream connection from
the broker's side.
"""

from __future__ import annotations

import asyncio
import json
import time
from functools import partial
from typing import Any

import aio_pika
import pytest
from faststream.rabbit.annotations import RabbitMessage
from rstream import Consumer, OffsetNotFound

from faststream_hare import HareBroker, HareSettings, signals
from tests.faults.conftest import Account, reached
from tests.support.broker import AMQP_HOST, STREAM_PORT
from tests.support.fault_proxy import FaultProxy, Stopwatch
from tests.support.rabbit_admin import AMQP_URL, RabbitAdmin
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit

BATCH = 100
CUTS = 5


def stream_broker(prefix: str, proxy: FaultProxy) -> HareBroker:
    settings = HareSettings(
        stream_url=proxy.url("rabbitmq-stream"),
        reconnect_interval_ms=500,
        shutdown_drain_timeout_ms=5_000,
    )
    return HareBroker(f"{AMQP_URL.rstrip('/')}/?name={prefix}", settings=settings, logger=None)


async def publish_ids(queue: str, ids: list[str]) -> None:
    """Publish ``{"id": ...}`` to the stream over AMQP, each one confirmed."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True, arguments={"x-queue-type": "stream"})
        for message_id in ids:
            body = json.dumps({"id": message_id}).encode()
            message = aio_pika.Message(body, content_type="application/json")
            await channel.default_exchange.publish(message, routing_key=queue)
    finally:
        await connection.close()


async def stored_offset(queue: str, name: str) -> int | None:
    consumer = Consumer(AMQP_HOST, STREAM_PORT, username="guest", password="guest")
    try:
        return await consumer.query_offset(queue, name)
    except OffsetNotFound:
        return None
    finally:
        await consumer.close()


async def cut_stream_link(admin: RabbitAdmin, proxy: FaultProxy, name: str, done: set[str]) -> None:
    """Abort the proxy's connections and close the subscriber's stream connection (broker side).

    ``done`` holds the connections closed before: the management API lists a connection for
    a while after it closed, so only a new one counts.
    """

    def fresh() -> list[str]:
        return [c["name"] for c in admin.connections(name) if c["name"] not in done]

    deadline = time.monotonic() + 15
    while not (found := await asyncio.to_thread(fresh)):
        assert time.monotonic() < deadline, f"no stream connection named {name}* was listed"
        await asyncio.sleep(0.1)
    proxy.cut()
    await asyncio.to_thread(admin.close_connections, name)
    done.update(found)


class Recorder:
    """What the subscriber handled (ids and offsets) and how often its stream link dropped."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.offsets: list[int] = []
        self.ids: list[str] = []
        self.disconnects = 0

    def handled(self, body: dict[str, str], message: RabbitMessage) -> None:
        self.account.handle(body["id"])
        self.ids.append(body["id"])
        self.offsets.append(int(message.headers["x-stream-offset"]))

    def on_disconnect(self, _: Any, **__: Any) -> None:
        self.disconnects += 1


async def test_cuts_while_consuming_skip_no_offset(
    prefix: str, admin: RabbitAdmin, stream_proxy: FaultProxy, account: Account
) -> None:
    queue, name = f"{prefix}.s", f"{prefix}-reader"
    broker = stream_broker(prefix, stream_proxy)
    recorder = Recorder(account)

    @broker.subscriber(queue, stream=True, stream_offset="first", stream_consumer_name=name)
    async def read(body: dict[str, str], message: RabbitMessage) -> None:
        recorder.handled(body, message)
        await asyncio.sleep(0.003)  # consumption spans the cuts

    batches = [[account.publish(f"s{c}.{n}") for n in range(BATCH)] for c in range(CUTS + 1)]
    recoveries: list[float] = []
    closed: set[str] = set()
    with signals.connection_disconnected.connected_to(recorder.on_disconnect):
        await broker.start()
        try:
            await publish_ids(queue, batches[0])
            for cut in range(CUTS):
                # cut in the middle of a batch, then publish the next one during the outage
                done = BATCH * cut + BATCH // 2
                await eventually(reached(lambda: len(recorder.ids), done))
                drops = recorder.disconnects
                await cut_stream_link(admin, stream_proxy, f"{prefix}.stream.", closed)
                watch = Stopwatch()
                await publish_ids(queue, batches[cut + 1])
                await eventually(reached(lambda: recorder.disconnects, drops + 1))
                first_after = batches[cut + 1][0]
                await eventually(
                    reached(partial(account.handled.__getitem__, first_after), 1), timeout=30
                )
                recoveries.append(watch.elapsed())
            await eventually(lambda: account.settled == len(account.published), timeout=30)
        finally:
            await broker.stop()

    account.report(
        "stream cuts",
        cuts=CUTS,
        messages=len(account.published),
        recovery_s=max(recoveries),
        disconnects=recorder.disconnects,
    )
    assert account.lost == []
    assert recorder.ids == account.published, "a message was skipped, repeated or reordered"
    assert recorder.offsets == sorted(set(recorder.offsets))
    assert await stored_offset(queue, name) == recorder.offsets[-1]


async def test_restart_after_cuts_resumes_after_the_stored_offset(
    prefix: str, admin: RabbitAdmin, stream_proxy: FaultProxy, account: Account
) -> None:
    queue, name = f"{prefix}.s", f"{prefix}-reader"
    closed: set[str] = set()
    first_ids = [account.publish(f"a{n}") for n in range(200)]
    later_ids = [account.publish(f"b{n}") for n in range(200)]
    await publish_ids(queue, first_ids)

    first = Recorder(account)
    broker = stream_broker(prefix, stream_proxy)

    @broker.subscriber(queue, stream=True, stream_offset="first", stream_consumer_name=name)
    async def read(body: dict[str, str], message: RabbitMessage) -> None:
        first.handled(body, message)
        await asyncio.sleep(0.003)

    with signals.connection_disconnected.connected_to(first.on_disconnect):
        await broker.start()
        try:
            for cut in range(3):
                await eventually(reached(lambda: len(first.offsets), 50 * (cut + 1)))
                drops = first.disconnects
                await cut_stream_link(admin, stream_proxy, f"{prefix}.stream.", closed)
                await eventually(reached(lambda: first.disconnects, drops + 1))
            await eventually(lambda: len(set(first.offsets)) == 200, timeout=30)
        finally:
            await broker.stop()
    stored = await stored_offset(queue, name)
    assert stored is not None

    await publish_ids(queue, later_ids)  # while nobody reads
    second = Recorder(account)
    restarted = stream_broker(prefix, stream_proxy)

    @restarted.subscriber(queue, stream=True, stream_offset="first", stream_consumer_name=name)
    async def read_again(body: dict[str, str], message: RabbitMessage) -> None:
        second.handled(body, message)

    await restarted.start()
    try:
        await eventually(lambda: account.settled == 400, timeout=30)
    finally:
        await restarted.stop()

    account.report("stream restart", cuts=3, stored=stored, resumed_at=min(second.offsets))
    assert account.lost == []
    assert stored == first.offsets[-1]
    assert second.ids == later_ids, "the restart did not resume right after the stored offset"
    assert min(second.offsets) > stored


async def test_stream_connections_go_through_stream_url(
    prefix: str, stream_proxy: FaultProxy
) -> None:
    """Both rstream connections (locator and subscription) must use the stream_url endpoint."""
    queue = f"{prefix}.s"
    broker = stream_broker(prefix, stream_proxy)
    seen: list[str] = []

    @broker.subscriber(queue, stream=True, stream_offset="first")
    async def read(body: dict[str, str]) -> None:
        seen.append(body["id"])

    await broker.start()
    try:
        await publish_ids(queue, ["x0"])
        await eventually(lambda: seen == ["x0"])
        links = stream_proxy.links  # connections the proxy carries right now
    finally:
        await broker.stop()
    assert links == 2, f"the proxy carries {links} stream connection(s), expected locator + data"
