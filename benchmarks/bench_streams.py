"""Stream consumption: hare's rstream subscriber vs FastStream's AMQP stream subscriber.

Fills one stream queue with N small JSON messages (published over AMQP, as an app would),
then reads all of it from "first" twice with the same trivial handler:

* hare: ``@broker.subscriber(Q, stream=True, stream_offset="first")`` (stream protocol, rstream);
* plain FastStream: ``RabbitQueue(Q, queue_type=STREAM)`` with ``x-stream-offset: first``,
  prefetch 100 and ``AckPolicy.ACK`` (the documented AMQP way; acks are credit only).

Run: ``.venv/bin/python benchmarks/bench_streams.py [--messages 50000] [--rounds 3]
[--fill amqp|stream]``
(RabbitMQ with the stream plugin at HARE_BENCH_URL, default amqp://guest:guest@127.0.0.1:5672/).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable

import aio_pika
from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, QueueType, RabbitBroker, RabbitQueue
from rstream import AMQPMessage, Producer, Properties

from faststream_hare import HareBroker
from faststream_hare.streams.endpoint import stream_endpoint

URL = os.environ.get("HARE_BENCH_URL", "amqp://guest:guest@127.0.0.1:5672/")
BATCH = 1_000


async def fill(queue: str, count: int) -> None:
    """Declare the stream and publish ``count`` confirmed messages in batches."""
    connection = await aio_pika.connect(URL)
    try:
        channel = await connection.channel()  # publisher confirms on
        await channel.declare_queue(queue, durable=True, arguments={"x-queue-type": "stream"})
        for start in range(0, count, BATCH):
            await asyncio.gather(
                *(
                    channel.default_exchange.publish(
                        aio_pika.Message(
                            json.dumps({"n": n, "kind": "bench"}).encode(),
                            content_type="application/json",
                        ),
                        routing_key=queue,
                    )
                    for n in range(start, min(start + BATCH, count))
                )
            )
    finally:
        await connection.close()


async def fill_over_stream_protocol(queue: str, count: int) -> None:
    """Bulk-load the same messages with rstream's producer (few, large chunks)."""
    await fill(queue, 0)  # declare the stream like the AMQP fill does
    endpoint = stream_endpoint(URL)
    async with Producer(
        endpoint.host,
        endpoint.port,
        username=endpoint.username,
        password=endpoint.password,
        vhost=endpoint.vhost,
    ) as producer:
        for start in range(0, count, BATCH):
            batch = [
                AMQPMessage(
                    body=json.dumps({"n": n, "kind": "bench"}).encode(),
                    properties=Properties(content_type=b"application/json"),
                )
                for n in range(start, min(start + BATCH, count))
            ]
            await producer.send_batch(queue, batch)


async def delete(queue: str) -> None:
    connection = await aio_pika.connect(URL)
    try:
        channel = await connection.channel()
        await channel.queue_delete(queue)
    finally:
        await connection.close()


def counting_handler(total: int, done: asyncio.Event) -> tuple[Callable[..., object], list[int]]:
    seen = [0]

    async def handle(body: dict[str, object]) -> None:
        seen[0] += 1
        if seen[0] == total:
            done.set()

    return handle, seen


Result = tuple[float, float]  # msgs/s, client CPU µs per message


async def timed(broker: RabbitBroker, done: asyncio.Event, total: int) -> Result:
    """Start ``broker`` and time it until ``done``: msgs/s and client CPU µs per message."""
    started, cpu = time.perf_counter(), time.process_time()
    async with broker:
        await broker.start()
        await done.wait()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return total / elapsed, cpu / total * 1e6


async def run_hare(queue: str, total: int) -> Result:
    done = asyncio.Event()
    handle, _ = counting_handler(total, done)
    broker = HareBroker(URL, logger=None)
    broker.subscriber(queue, stream=True, stream_offset="first")(handle)
    return await timed(broker, done, total)


async def run_plain(queue: str, total: int) -> Result:
    done = asyncio.Event()
    handle, _ = counting_handler(total, done)
    broker = RabbitBroker(URL, logger=None)
    broker.subscriber(
        RabbitQueue(queue, durable=True, queue_type=QueueType.STREAM),
        consume_args={"x-stream-offset": "first"},
        channel=Channel(prefetch_count=100),
        ack_policy=AckPolicy.ACK,
    )(handle)
    return await timed(broker, done, total)


async def main(messages: int, rounds: int, loader: str) -> None:
    queue = f"hare_bench_streams_{uuid.uuid4().hex[:6]}"
    try:
        started = time.perf_counter()
        if loader == "stream":
            await fill_over_stream_protocol(queue, messages)
        else:
            await fill(queue, messages)
        elapsed = time.perf_counter() - started
        print(f"filled {messages} messages over {loader} in {elapsed:.1f} s")
        hare: list[Result] = []
        plain: list[Result] = []
        for _ in range(rounds):  # alternate, so neither side always reads a warm cache
            plain.append(await run_plain(queue, messages))
            hare.append(await run_hare(queue, messages))
        best_hare, best_plain = max(hare), max(plain)
        print(f"hare stream subscriber (rstream):  {_line(hare)}")
        print(f"FastStream AMQP stream subscriber: {_line(plain)}")
        print(
            f"ratio hare / AMQP: {best_hare[0] / best_plain[0]:.2f}x "
            f"(medians {_median(hare) / _median(plain):.2f}x)"
        )
    finally:
        await delete(queue)


def _line(results: list[Result]) -> str:
    best = max(results)
    rounds = ", ".join(f"{rate:,.0f}" for rate, _ in results)
    return f"{best[0]:>9,.0f} msgs/s, {best[1]:5.1f} µs CPU/msg  (rounds: {rounds})"


def _median(results: list[Result]) -> float:
    return statistics.median(rate for rate, _ in results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--fill",
        choices=("amqp", "stream"),
        default="amqp",
        help="amqp: confirmed AMQP publishes, 1 000 in flight (small chunks, the default); "
        "stream: rstream producer batches of 1 000 (large chunks)",
    )
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.rounds, args.fill))
