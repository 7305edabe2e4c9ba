"""Idempotent consumers on a real RabbitMQ and Redis: processes sharing Redis, a killed process's
lease, Redis down, the store's own guarantees (``test_idempotency.py``: the scenarios of both
transports and both stores).

Some tests run brokers in other processes: this module is also their program
(``python -m tests.features.idempotency.test_idempotency_redis <queue> <store> <mode> <lease>``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from faststream.rabbit.annotations import RabbitMessage
from redis.asyncio import Redis

from faststream_hare import (
    HareBroker,
    HareDedupError,
    HareSettings,
    Idempotency,
    RedisIdempotencyStore,
    signals,
)
from faststream_hare.dedup.store import Claim
from faststream_hare.idempotency import Seen
from faststream_hare.idempotency.redis import ACQUIRE
from tests.support.amqp import wait_depth
from tests.support.fault_proxy import LoseFirstReplies
from tests.support.log_count import LogCount
from tests.support.pools import make_broker, running
from tests.support.rabbit_admin import AMQP_URL, REDIS_URL
from tests.support.redis_server import ThrowawayRedis
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[3]


# -- the worker process -----------------------------------------------------------------------


async def _work(queue: str, store: str, mode: str, lease_ms: int) -> None:
    broker = HareBroker(
        f"{AMQP_URL.rstrip('/')}/?name={queue}-worker",
        settings=HareSettings(reconnect_interval_ms=300),
        logger=None,
    )

    @broker.subscriber(
        queue,
        prefetch_count=20,
        retry_limit=0,
        idempotent=Idempotency(60_000, store=store, lease_ms=lease_ms),
    )
    async def handle(body: str, message: RabbitMessage) -> None:
        print(f"S {message.message_id}", flush=True)
        if mode == "hang":
            await asyncio.Event().wait()
        print(f"H {message.message_id}", flush=True)

    def duplicate(sender: Any, measurements: Any, metadata: dict[str, Any]) -> None:
        print(f"D {metadata['message_id']}", flush=True)

    signals.consumer_message_duplicate.connect(duplicate, weak=False)
    await broker.start()
    print("READY", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until stdin closes
    await broker.stop()


class Worker:
    """A broker in another process; its output lines are collected as they come."""

    def __init__(self, queue: str, store: str, mode: str = "fast", lease_ms: int = 60_000) -> None:
        program = [sys.executable, "-m", "tests.features.idempotency.test_idempotency_redis"]
        self.process = subprocess.Popen(
            [*program, queue, store, mode, str(lease_ms)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.strip())

    def ids(self, kind: str) -> list[str]:
        return [line[2:] for line in list(self.lines) if line.startswith(f"{kind} ")]

    async def ready(self) -> None:
        await eventually(lambda: "READY" in self.lines, timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None and self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


async def publish_ids(queue: str, ids: list[str]) -> None:
    """Publish one message per id to ``queue``, every one confirmed by the broker."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel(publisher_confirms=True)
        for start in range(0, len(ids), 100):
            await asyncio.gather(
                *(
                    channel.default_exchange.publish(
                        aio_pika.Message(message_id.encode(), message_id=message_id),
                        routing_key=queue,
                    )
                    for message_id in ids[start : start + 100]
                )
            )
    finally:
        await connection.close()


# -- the tests --------------------------------------------------------------------------------


@pytest.mark.rabbit
@pytest.mark.redis
async def test_two_processes_sharing_redis_handle_each_of_1000_ids_once(prefix: str) -> None:
    queue = f"{prefix}.shared"
    workers = [Worker(queue, REDIS_URL), Worker(queue, REDIS_URL)]
    try:
        for worker in workers:
            await worker.ready()
        ids = [f"m-{i}" for i in range(1000)]
        await publish_ids(queue, ids)
        await publish_ids(queue, ids)  # every id a second time

        def settled() -> int:
            return sum(len(w.ids("H")) + len(w.ids("D")) for w in workers)

        await eventually(lambda: settled() >= 2000, timeout=120)
        await wait_depth(queue, 0)
    finally:
        for worker in workers:
            worker.stop()
    handled = [i for w in workers for i in w.ids("H")]
    duplicates = [i for w in workers for i in w.ids("D")]
    print(f"handled={len(handled)} duplicates acked={len(duplicates)}")
    assert sorted(handled) == sorted(ids)  # every id exactly once
    assert sorted(duplicates) == sorted(ids)
    assert all(w.ids("H") for w in workers), "both processes took part"


@pytest.mark.rabbit
async def test_a_pooled_subscriber_handles_each_id_once(prefix: str) -> None:
    queue = f"{prefix}.pooled"
    broker = make_broker(prefix)
    handled: list[str] = []
    duplicates: list[str] = []

    @broker.subscriber(queue, consumer_count=2, idempotent=Idempotency(60_000))
    async def handle(body: str, message: RabbitMessage) -> None:
        handled.append(str(message.message_id))

    def duplicate(sender: Any, measurements: Any, metadata: dict[str, Any]) -> None:
        if metadata["queue"] == queue:
            duplicates.append(metadata["message_id"])

    signals.consumer_message_duplicate.connect(duplicate)
    ids = [f"p-{i}" for i in range(50)]
    try:
        async with running(broker):
            await publish_ids(queue, ids + ids)
            await eventually(lambda: len(handled) + len(duplicates) == 100)
            await wait_depth(queue, 0)
    finally:
        signals.consumer_message_duplicate.disconnect(duplicate)
    assert sorted(handled) == sorted(ids)
    assert sorted(duplicates) == sorted(ids)


@pytest.mark.rabbit
@pytest.mark.redis
async def test_the_lease_of_a_killed_process_expires_and_the_message_is_handled(
    prefix: str,
) -> None:
    queue = f"{prefix}.lease"
    lease_ms = 2_000
    worker = Worker(queue, REDIS_URL, mode="hang", lease_ms=lease_ms)
    try:
        await worker.ready()
        await publish_ids(queue, ["l-1"])
        await eventually(lambda: worker.ids("S") == ["l-1"])
    finally:
        worker.kill()  # dies holding the lease; RabbitMQ gives the message back to Q
    broker = make_broker(prefix)
    handled: list[str] = []

    @broker.subscriber(
        queue, retry_limit=0, idempotent=Idempotency(60_000, store=REDIS_URL, lease_ms=lease_ms)
    )
    async def handle(body: str, message: RabbitMessage) -> None:
        handled.append(str(message.message_id))

    async with running(broker):
        await eventually(lambda: handled == ["l-1"], timeout=30)
        await wait_depth(queue, 0)
    assert handled == ["l-1"]
    assert worker.ids("H") == []


@pytest.mark.rabbit
async def test_with_redis_down_the_message_waits_in_q_and_is_handled_once_it_is_back(
    prefix: str, throwaway_redis: ThrowawayRedis
) -> None:
    queue = f"{prefix}.down"
    broker = make_broker(prefix)
    handled: list[str] = []
    requeues = LogCount("goes back to the queue")
    logger = logging.getLogger("faststream_hare.idempotency")
    logger.addHandler(requeues)

    @broker.subscriber(queue, idempotent=Idempotency(60_000, store=throwaway_redis.url))
    async def handle(body: str, message: RabbitMessage) -> None:
        handled.append(str(message.message_id))

    throwaway_redis.start()
    await eventually(throwaway_redis.answers, timeout=15)
    try:
        async with running(broker):
            await broker.publish("x", queue=queue, message_id="before")
            await eventually(lambda: handled == ["before"])
            throwaway_redis.stop()
            await broker.publish("x", queue=queue, message_id="r-1")
            await eventually(lambda: requeues.count >= 2, timeout=30)
            assert handled == ["before"]  # never handled unchecked
            throwaway_redis.start()
            await eventually(lambda: handled == ["before", "r-1"], timeout=30)
            await wait_depth(queue, 0)
    finally:
        logger.removeHandler(requeues)
    assert handled == ["before", "r-1"]


@pytest.mark.redis
async def test_redis_store_acquire_is_atomic_and_release_checks_the_token() -> None:
    store = RedisIdempotencyStore(REDIS_URL, name=f"t{uuid.uuid4().hex[:8]}")
    try:
        leases = await asyncio.gather(*(store.acquire("k", 60_000) for _ in range(50)))
        [granted] = [lease for lease in leases if isinstance(lease, Claim)]
        assert leases.count(Seen.BUSY) == 49
        stale = await store.acquire("short", 50)
        assert isinstance(stale, Claim)
        await asyncio.sleep(0.1)  # let the 50 ms lease expire (not an assertion on time)
        fresh = await store.acquire("short", 60_000)
        assert isinstance(fresh, Claim)
        await store.release(stale)  # expired: must not drop the fresh lease
        assert await store.acquire("short", 60_000) is Seen.BUSY
        await store.mark_done(fresh, 60_000)
        assert await store.acquire("short", 60_000) is Seen.DONE
        await store.release(granted)
        assert len(store) == 1  # the done marker only
    finally:
        await store.clear()
        await store.aclose()


if __name__ == "__main__":
    _queue, _store, _mode, _lease = sys.argv[1:5]
    asyncio.run(_work(_queue, _store, _mode, int(_lease)))


@pytest.mark.redis
async def test_a_lease_whose_reply_was_lost_is_dropped_not_waited_out() -> None:
    """The lease script ran but the connection broke before its reply: the lease is held by
    nobody. The next acquire in this process drops it (token-checked) instead of answering
    BUSY until the lease expires."""
    name = f"t{uuid.uuid4().hex[:8]}"
    admin = Redis.from_url(REDIS_URL)
    try:
        await admin.script_load(ACQUIRE.text)  # the lease's EVALSHA runs, then is cut
    finally:
        await admin.aclose()
    async with LoseFirstReplies(cut=True, trigger=b"\r\nEVALSHA\r\n") as proxy:
        store = RedisIdempotencyStore(f"redis://127.0.0.1:{proxy.port}/0", name=name)
        try:
            with pytest.raises(HareDedupError, match="before the reply"):
                await store.acquire("k", 600_000)
            assert proxy.triggered, "the lease script reached Redis"
            lease = await store.acquire("k", 600_000)
            assert isinstance(lease, Claim), "BUSY: the message would wait 10 minutes"
            await store.mark_done(lease, 60_000)
            assert await store.acquire("k", 600_000) is Seen.DONE
        finally:
            await store.clear()
            await store.aclose()
