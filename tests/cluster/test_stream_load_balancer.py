"""rstream behind HAProxy: ``load_balancer_mode`` reconnects through the balancer until the
server it reaches advertises the member rstream asked for (leader or replica).

This is what a stream consumer needs when the nodes' own addresses are not reachable from
the application (only the balancer is); the nodes here advertise ``127.0.0.1:<own port>``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aio_pika
import pytest
from rstream import Consumer, MessageContext, OffsetType, Producer
from rstream.constants import ConsumerOffsetSpecification
from yarl import URL

from tests.cluster.cluster import Cluster

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]

COUNT = 50


async def test_rstream_load_balancer_mode_reads_a_replicated_stream_through_haproxy(
    cluster: Cluster, cprefix: str
) -> None:
    stream = f"{cprefix}.events"
    connection = await aio_pika.connect(cluster.amqp_url)
    try:
        channel = await connection.channel()
        await channel.declare_queue(stream, durable=True, arguments={"x-queue-type": "stream"})
    finally:
        await connection.close()
    cluster.wait_members(stream, 3)

    balancer = URL(cluster.stream_url)
    options: dict[str, Any] = {
        "username": "guest",
        "password": "guest",
        "load_balancer_mode": True,
    }
    assert balancer.host is not None
    assert balancer.port is not None
    async with Producer(balancer.host, balancer.port, **options) as producer:
        for n in range(COUNT):
            await producer.send_wait(stream, str(n).encode())

    for attempt in range(3):  # rstream picks a random replica each time
        seen = await read_all(balancer, stream, f"{cprefix}-{attempt}", **options)
        assert seen == list(range(COUNT))


async def read_all(balancer: URL, stream: str, name: str, **options: Any) -> list[int]:
    """Read the stream from the first offset through the balancer until COUNT messages."""
    seen: list[int] = []
    done = asyncio.Event()

    async def on_message(body: bytes, context: MessageContext) -> None:
        seen.append(int(body))
        if len(seen) == COUNT:
            done.set()

    assert balancer.host is not None
    assert balancer.port is not None
    consumer = Consumer(balancer.host, balancer.port, connection_name=name, **options)
    try:
        await consumer.start()
        await consumer.subscribe(
            stream,
            on_message,
            offset_specification=ConsumerOffsetSpecification(OffsetType.FIRST),
        )
        await asyncio.wait_for(done.wait(), 30)
    finally:
        await consumer.close()
    return seen
