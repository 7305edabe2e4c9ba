"""Consuming throughput: a hare pool of N workers vs N plain FastStream subscribers on one queue.

Each run drains a backlog of ``--messages`` JSON messages that was published before its
consumers started, with prefetch ``--prefetch`` per consumer, and times from ``start()`` to
the last handler call. Two handlers: one that does nothing (framework overhead) and one that
awaits ``--io-ms`` (an I/O-bound job, where concurrency matters). Runs alternate over
``--rounds`` so that drift on a shared machine hits both alike.

* plain: ``RabbitBroker`` with N ``@broker.subscriber(queue)`` (FastStream shares one channel
  between subscribers of an equal queue; each is its own consumer with its own prefetch);
* hare: ``HareBroker`` with one ``@broker.subscriber(queue, consumer_count=N)`` (N workers,
  each on its own channel, with hare's retry middleware on every message).

Run: ``.venv/bin/python benchmarks/bench_pool.py [--messages 5000 --consumers 4]``
(needs RabbitMQ on 127.0.0.1:5672).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Callable

import aio_pika
from faststream.rabbit import Channel, RabbitBroker, RabbitQueue

from faststream_hare import HareBroker, HareSettings

AMQP_URL = os.environ.get("HARE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
BODY = b'{"job": 1, "payload": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}'


async def fill(queue: str, count: int) -> None:
    """Publish the backlog straight to the queue (declared durable, as both variants do)."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True)
        message = aio_pika.Message(BODY, content_type="application/json")
        for start in range(0, count, 500):
            await asyncio.gather(
                *(
                    channel.default_exchange.publish(message, routing_key=queue)
                    for _ in range(start, min(start + 500, count))
                )
            )
    finally:
        await connection.close()


async def drop(queue: str) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        for name in (queue, f"{queue}.delay", f"{queue}.dead"):
            await channel.queue_delete(name)
        await channel.exchange_delete(queue)
    finally:
        await connection.close()


def handler_for(io_s: float, done: Callable[[], None]):  # type: ignore[no-untyped-def]
    async def handle(body: dict[str, object]) -> None:
        if io_s:
            await asyncio.sleep(io_s)
        done()

    return handle


async def drain(kind: str, count: int, consumers: int, prefetch: int, io_s: float) -> float:
    """Messages per second for one drain of ``count`` messages."""
    queue = f"hare_bench_pool_{kind}_{uuid.uuid4().hex[:6]}"
    finished = asyncio.Event()
    seen = 0

    def done() -> None:
        nonlocal seen
        seen += 1
        if seen == count:
            finished.set()

    handle = handler_for(io_s, done)
    broker: RabbitBroker
    if kind == "hare":
        broker = HareBroker(AMQP_URL, settings=HareSettings(), logger=None)
        broker.subscriber(queue, consumer_count=consumers, prefetch_count=prefetch)(handle)
    else:
        broker = RabbitBroker(AMQP_URL, logger=None)
        for _ in range(consumers):
            broker.subscriber(
                RabbitQueue(queue, durable=True), channel=Channel(prefetch_count=prefetch)
            )(handle)
    await fill(queue, count)
    try:
        started = time.perf_counter()
        await broker.start()
        await asyncio.wait_for(finished.wait(), 300)
        elapsed = time.perf_counter() - started
    finally:
        await broker.stop()
        await drop(queue)
    return count / elapsed


async def main(args: argparse.Namespace) -> None:
    print(
        f"{args.messages} messages, {args.consumers} consumers, prefetch {args.prefetch}, "
        f"{args.rounds} rounds"
    )
    for label, io_s in (
        ("no-op handler", 0.0),
        (f"{args.io_ms} ms I/O handler", args.io_ms / 1000),
    ):
        rates: dict[str, list[float]] = {"plain": [], "hare": []}
        for _ in range(args.rounds):
            for kind in rates:
                rates[kind].append(
                    await drain(kind, args.messages, args.consumers, args.prefetch, io_s)
                )
        plain = sum(rates["plain"]) / len(rates["plain"])
        hare = sum(rates["hare"]) / len(rates["hare"])
        print(
            f"{label:>22}: plain FastStream {plain:8.0f} msg/s | hare pool {hare:8.0f} msg/s"
            f" | hare/plain {hare / plain:.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--consumers", type=int, default=4)
    parser.add_argument("--prefetch", type=int, default=10)
    parser.add_argument("--io-ms", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
