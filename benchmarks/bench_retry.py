"""Consume throughput: plain FastStream vs HareBroker (happy path), and hare's retry path.

Run: ``.venv/bin/python benchmarks/bench_retry.py [--messages 20000] [--prefetch 100]``.
Both sides consume the same number of pre-published small JSON messages with the same
prefetch, logging off; the best of ``--rounds`` runs is reported, interleaved. Every handler
takes only the body: a ``message: RabbitMessage`` parameter would cost each delivery a hop to
a worker thread (fast_depends resolves FastStream's ``Context`` fields there), on both sides.

Two figures for the retry path:

- handoffs: failing deliveries per second, each copied to the delay queue (confirmed) and its
  original acked — the work a failure adds, against a handled delivery;
- cycles: messages that fail once, wait in a delay queue with TTL 0 and then succeed (two
  deliveries and a copy each), per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import time
import uuid

import aio_pika
from faststream.rabbit import RabbitBroker
from faststream.rabbit.schemas import Channel

from faststream_hare import HareBroker

URL = os.environ.get("HARE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


async def fill(queue: str, count: int) -> None:
    """Publish ``count`` small JSON messages (ids 0..count-1) into ``queue`` (confirmed)."""
    connection = await aio_pika.connect(URL)
    async with connection:
        channel = await connection.channel()
        batch = 500
        for start in range(0, count, batch):
            await asyncio.gather(
                *(
                    channel.default_exchange.publish(
                        aio_pika.Message(
                            json.dumps({"id": n, "kind": "order", "amount": 10}).encode(),
                            content_type="application/json",
                        ),
                        routing_key=queue,
                    )
                    for n in range(start, min(start + batch, count))
                )
            )


async def delete(*queues: str) -> None:
    connection = await aio_pika.connect(URL)
    async with connection:
        channel = await connection.channel()
        for name in queues:
            await channel.queue_delete(name)
            await channel.exchange_delete(name)


async def consume_plain(count: int, prefetch: int) -> float:
    queue = f"bench.plain.{uuid.uuid4().hex[:6]}"
    broker = RabbitBroker(URL, logger=None)
    counter = Countdown(count)

    @broker.subscriber(queue, channel=Channel(prefetch_count=prefetch))
    async def handle(body: dict) -> None:
        counter.tick()

    return await timed_run(broker, queue, counter, extra_queues=())


async def consume_hare(count: int, prefetch: int) -> float:
    queue = f"bench.hare.{uuid.uuid4().hex[:6]}"
    broker = HareBroker(URL, logger=None)
    counter = Countdown(count)

    @broker.subscriber(queue, prefetch_count=prefetch, retry_limit=3, delay_in_ms=1_000)
    async def handle(body: dict) -> None:
        counter.tick()

    return await timed_run(broker, queue, counter)


async def retry_path(count: int, prefetch: int) -> float:
    """Messages that fail once, wait in the delay queue (TTL 0) and succeed: cycles/s."""
    queue = f"bench.retry.{uuid.uuid4().hex[:6]}"
    broker = HareBroker(URL, logger=None)
    counter = Countdown(count)
    failed: set[int] = set()

    @broker.subscriber(queue, prefetch_count=prefetch, retry_limit=3, delay_in_ms=0)
    async def handle(body: dict) -> None:
        if body["id"] not in failed:
            failed.add(body["id"])
            msg = "first attempt fails"
            raise RuntimeError(msg)
        counter.tick()

    return await timed_run(broker, queue, counter)


async def handoffs(count: int, prefetch: int) -> float:
    """Every delivery fails and is copied to a delay queue it stays in: handoffs/s, timed
    until the last original is acked (its copy confirmed)."""
    queue = f"bench.handoff.{uuid.uuid4().hex[:6]}"
    broker = HareBroker(URL, logger=None)

    @broker.subscriber(queue, prefetch_count=prefetch, retry_limit=3, delay_in_ms=600_000)
    async def handle(body: dict) -> None:
        msg = "fails"
        raise RuntimeError(msg)

    await broker.start()
    await broker.stop()
    await fill(queue, count)
    connection = await aio_pika.connect(URL)
    async with connection:
        channel = await connection.channel()
        started = time.perf_counter()
        await broker.start()
        await until_depth(channel, f"{queue}.delay", count)
        elapsed = time.perf_counter() - started
    await broker.stop()
    await delete(queue, f"{queue}.delay", f"{queue}.dead")
    return count / elapsed


async def until_depth(channel: aio_pika.abc.AbstractChannel, queue: str, depth: int) -> None:
    """Poll ``queue`` until it holds ``depth`` messages."""
    while True:
        declared = await channel.declare_queue(queue, passive=True)
        if declared.declaration_result.message_count >= depth:
            return
        await asyncio.sleep(0.005)


class Countdown:
    """Sets ``done`` when ``tick()`` was called ``count`` times."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.left = count
        self.done = asyncio.Event()

    def tick(self) -> None:
        self.left -= 1
        if self.left == 0:
            self.done.set()


async def timed_run(
    broker: RabbitBroker,
    queue: str,
    counter: Countdown,
    extra_queues: tuple[str, ...] = (".delay", ".dead"),
) -> float:
    """Declare (start/stop once), fill the queue, then time consuming all of it: msgs/s."""
    await broker.start()
    await broker.stop()
    await fill(queue, counter.count)
    started = time.perf_counter()
    await broker.start()
    await counter.done.wait()
    elapsed = time.perf_counter() - started
    await broker.stop()
    await delete(queue, *(f"{queue}{suffix}" for suffix in extra_queues))
    return counter.count / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--retry-messages", type=int, default=5_000)
    parser.add_argument("--prefetch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("faststream_hare").setLevel(logging.WARNING)

    plain_rates, hare_rates = [], []
    for _ in range(args.rounds):
        plain_rates.append(await consume_plain(args.messages, args.prefetch))
        hare_rates.append(await consume_hare(args.messages, args.prefetch))
    plain, hare = max(plain_rates), max(hare_rates)
    handoff = max([await handoffs(args.messages, args.prefetch) for _ in range(2)])
    retry = max([await retry_path(args.retry_messages, args.prefetch) for _ in range(2)])
    print(f"messages={args.messages} prefetch={args.prefetch} rounds={args.rounds} (best of)")
    print(f"plain FastStream consume : {plain:10.0f} msgs/s")
    print(f"HareBroker consume       : {hare:10.0f} msgs/s")
    print(f"ratio hare/plain         : {hare / plain:10.3f}")
    print(f"retry handoffs           : {handoff:10.0f} failing deliveries/s")
    print(f"ratio handoff/happy      : {handoff / hare:10.3f}   (goal >= 0.5)")
    print(f"retry cycles (1 delay)   : {retry:10.0f} msgs/s ({args.retry_messages} messages)")
    print(f"ratio cycle/happy        : {retry / hare:10.3f}   (two deliveries and a copy each)")


if __name__ == "__main__":
    asyncio.run(main())
