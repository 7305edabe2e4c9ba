"""The broker declares its hare topologies on shared channels and starts its consumers
together: each still consumes exactly once, a start again adds no consumer, a declaration the
broker refuses is declared again one by one (named or tolerated as before), and a consumer
that fails still fails the start in one sentence."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aio_pika
import aiormq.exceptions
import pytest
from faststream.rabbit import Channel

from faststream_hare import HareBroker, HareError
from faststream_hare._internal import aiormq_frames
from faststream_hare.subscriber import ahead_starts
from faststream_hare.topology.pipelined import DeclarationChannels, declare_pipelined
from faststream_hare.topology.plan import TopologyPlan, plan_topology
from tests.support.amqp import consumers, wait_depth
from tests.support.rabbit_admin import AMQP_URL
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit

COUNT = 12


def _broker(prefix: str, broker_url: str, handled: list[str]) -> tuple[HareBroker, list[str]]:
    """``COUNT`` hare consumers (two given one ``Channel``), a pool and a plain one."""
    broker = HareBroker(broker_url, logger=None)
    shared = Channel(prefetch_count=7)
    queues = [f"{prefix}.q{n}" for n in range(COUNT)]

    async def handle(body: str) -> None:
        handled.append(body)

    for n, queue in enumerate(queues):
        channel = shared if n in (3, 4) else None
        broker.subscriber(queue, retry_limit=1, delay_in_ms=100, channel=channel)(handle)
    queues.append(f"{prefix}.pooled")
    broker.subscriber(queues[-1], retry_limit=1, consumer_count=2)(handle)
    queues.append(f"{prefix}.plain")
    broker.subscriber(queues[-1])(handle)
    return broker, queues


def test_one_start_per_channel_and_no_pools_or_streams() -> None:
    broker, _ = _broker("p", AMQP_URL, [])
    subscribers = broker.hare_subscribers()
    assert len(subscribers) == COUNT + 1
    openers, followers = ahead_starts(subscribers)
    assert (len(openers), len(followers)) == (2, COUNT - 2)  # one per Channel first; no pool
    own = broker.hare_subscriber("p.q0").channel
    assert own is not None
    assert own.publisher_confirms is False  # nothing is published on it
    assert own.prefetch_count == 1
    assert broker.hare_subscriber("p.q11").channel is own  # one channel for a prefetch


async def _publish_each(broker: HareBroker, queues: list[str], tag: str) -> set[str]:
    sent = {f"{tag}:{queue}" for queue in queues}
    for queue in queues:
        await broker.publish(f"{tag}:{queue}", queue=queue)
    return sent


async def test_every_consumer_starts_once_and_again_after_a_stop(
    prefix: str, broker_url: str
) -> None:
    handled: list[str] = []
    broker, queues = _broker(prefix, broker_url, handled)
    for run in ("first", "again"):
        await broker.start()
        try:
            counts = [await consumers(AMQP_URL, queue) for queue in queues]
            sent = await _publish_each(broker, queues, run)
            await eventually(lambda sent=sent: sent <= set(handled))
        finally:
            await broker.stop()
        assert counts == [1] * COUNT + [2, 1]  # the pool has two workers
    assert len(handled) == len(set(handled)) == 2 * len(queues)
    print(f"[startup] {len(queues)} queues, two starts: handled {len(handled)}, lost=0")


async def test_a_consumer_that_fails_to_start_fails_the_start_and_stop_ends(
    prefix: str, broker_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker, queues = _broker(prefix, broker_url, [])
    failing = broker.hare_subscriber(queues[5])

    def refuse() -> None:
        raise HareError(f"hare cannot attach its retry to '{failing.queue_name}'.")

    monkeypatch.setattr(failing, "check_retry_runs", refuse)
    try:
        with pytest.raises(HareError) as caught:
            await broker.start()
    finally:
        await asyncio.wait_for(broker.stop(), 30)
    assert "\n" not in str(caught.value)
    assert failing.queue_name in str(caught.value)
    assert [await consumers(AMQP_URL, queue) for queue in queues[:COUNT]] == [0] * COUNT


def _plan(queue: str, delay_ms: int = 1_000) -> TopologyPlan:
    return plan_topology(
        queue=queue, routing_key=queue, exchange=None, exchange_type="topic", delay_in_ms=delay_ms
    )


async def test_declaration_channels_are_reused_and_a_refused_one_is_dropped(prefix: str) -> None:
    connection = await aio_pika.connect_robust(AMQP_URL)
    try:
        channels = DeclarationChannels(connection)
        async with channels.lend() as first:
            await declare_pipelined(first, _plan(f"{prefix}.a"))
        async with channels.lend() as again:
            assert again is first
            await declare_pipelined(again, _plan(f"{prefix}.b"))
        with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed):
            async with channels.lend() as refused:
                await declare_pipelined(refused, _plan(f"{prefix}.a", 2_000))
        assert refused.is_closed
        async with channels.lend() as fresh:
            assert fresh is not refused
            assert not fresh.is_closed
        await channels.aclose()
        assert fresh.is_closed
        declared = await connection.channel()
        for name in (f"{prefix}.a", f"{prefix}.a.delay", f"{prefix}.a.dead", f"{prefix}.b.dead"):
            await declared.declare_queue(name, passive=True)  # each exists
    finally:
        await connection.close()


async def test_without_aiormqs_bookkeeping_the_methods_go_one_by_one(
    prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aiormq_frames, "frames_supported", lambda channel: False)
    connection = await aio_pika.connect_robust(AMQP_URL)
    try:
        channels = DeclarationChannels(connection)
        async with channels.lend() as channel:
            await declare_pipelined(channel, _plan(f"{prefix}.slow"))
        with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed):
            async with channels.lend() as channel:
                await declare_pipelined(channel, _plan(f"{prefix}.slow", 2_000))
        await channels.aclose()
        declared = await connection.channel()
        await declared.declare_queue(f"{prefix}.slow.dead", passive=True)
    finally:
        await connection.close()


async def test_a_tolerated_mismatch_among_many_still_starts_them_all(
    prefix: str, broker_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    handled: list[str] = []
    broker, queues = _broker(prefix, broker_url, handled)
    connection = await aio_pika.connect(AMQP_URL)
    try:  # an Elixir HareMq service declared this Q.dead with its own TTL
        channel = await connection.channel()
        ttl = {"x-message-ttl": 31_449_600}
        await channel.declare_queue(f"{queues[2]}.dead", durable=True, arguments=ttl)
    finally:
        await connection.close()
    with caplog.at_level(logging.WARNING, logger="faststream_hare.topology"):
        await broker.start()
    try:
        sent = await _publish_each(broker, queues, "tolerated")
        await eventually(lambda: sent <= set(handled))
    finally:
        await broker.stop()
    warned = [r.getMessage() for r in caplog.records if "x-message-ttl=31449600" in r.getMessage()]
    assert len(warned) == 1
    assert f"{queues[2]}.dead" in warned[0]


async def test_subscribers_sharing_a_channel_keep_their_own_prefetch(
    prefix: str, broker_url: str
) -> None:
    """The default consuming channel is shared by prefetch, and the broker still limits each
    consumer on it on its own: both handlers run (no shared limit), neither gets a second."""
    broker = HareBroker(broker_url, logger=None)
    release = asyncio.Event()
    running: dict[str, int] = {}
    queues = [f"{prefix}.left", f"{prefix}.right"]

    def holding(queue: str) -> Callable[[str], Awaitable[None]]:
        async def handle(body: str) -> None:
            running[queue] = running.get(queue, 0) + 1
            await release.wait()

        return handle

    for queue in queues:
        broker.subscriber(queue, retry_limit=1, delay_in_ms=100)(holding(queue))
    assert broker.hare_subscriber(queues[0]).channel is broker.hare_subscriber(queues[1]).channel
    await broker.start()
    try:
        for queue in queues:
            for n in range(3):
                await broker.publish(f"{queue}:{n}", queue=queue)
        await eventually(lambda: running == dict.fromkeys(queues, 1))
        for queue in queues:
            await wait_depth(queue, 2)  # the other two wait in Q: a prefetch of one each
        assert running == dict.fromkeys(queues, 1)
        release.set()
        await eventually(lambda: running == dict.fromkeys(queues, 3))
    finally:
        release.set()
        await broker.stop()
