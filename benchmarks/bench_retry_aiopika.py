"""The retry path: hare against a hand-written aio-pika consumer doing the same broker work.

Both sides consume the same pre-published JSON messages from ``Q`` with prefetch
``--prefetch``. A message's first delivery fails: it is copied (persistent, ``retry_count``
header) to ``Q.delay`` with a publisher confirm, then the original is acked; ``Q.delay`` has a
TTL of 0 and dead-letters the copy back to ``Q`` through the exchange ``Q``; the second
delivery succeeds and is acked. Both sides use the topology hare declares (``Q``, exchange
``Q``, ``Q.delay``, ``Q.dead``). Timed from the start of consuming to the last success:
messages per second; runs alternate over ``--rounds`` and the best of each side is compared.

A third side does the same work in plain FastStream by hand (a ``RabbitBroker`` subscriber that
publishes the copy itself and returns): what a FastStream user rolling their own retry gets.

The aio-pika consumer is what one would write by hand: one connection, a channel with
publisher confirms and ``prefetch_count``, ``queue.consume`` with a callback (aio-pika runs
each in a task of its own), ``default_exchange.publish`` awaited for the confirm, then ack.

Run: ``.venv/bin/python benchmarks/bench_retry_aiopika.py [--messages 5000] [--rounds 3]``
(RabbitMQ at ``HARE_TEST_AMQP_URL``, default ``amqp://guest:guest@127.0.0.1:5672/``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
from faststream.rabbit import Channel, RabbitBroker, RabbitMessage, RabbitQueue

from faststream_hare import HareBroker

URL = os.environ.get("HARE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


Handler = Callable[[dict[str, Any]], Awaitable[None]]


def hare_broker(queue: str, prefetch: int, handle: Handler) -> HareBroker:
    broker = HareBroker(URL, logger=None)
    broker.subscriber(queue, prefetch_count=prefetch, retry_limit=3, delay_in_ms=0)(handle)
    return broker


async def fill(queue: str, count: int) -> None:
    """Publish ``count`` JSON messages (ids 0..count-1) into ``queue`` (confirmed)."""
    connection = await aio_pika.connect(URL)
    async with connection:
        channel = await connection.channel()
        for start in range(0, count, 500):
            await asyncio.gather(
                *(
                    channel.default_exchange.publish(
                        aio_pika.Message(
                            json.dumps({"id": n, "kind": "order"}).encode(),
                            content_type="application/json",
                        ),
                        routing_key=queue,
                    )
                    for n in range(start, min(start + 500, count))
                )
            )


async def prepared(count: int, prefetch: int) -> str:
    """A queue with hare's topology (declared by a HareBroker start/stop), filled."""
    queue = f"bench.retryraw.{uuid.uuid4().hex[:6]}"

    async def never(body: dict[str, Any]) -> None: ...

    broker = hare_broker(queue, prefetch, never)
    await broker.start()
    await broker.stop()
    await fill(queue, count)
    return queue


async def delete(queue: str) -> None:
    connection = await aio_pika.connect(URL)
    async with connection:
        channel = await connection.channel()
        for name in (queue, f"{queue}.delay", f"{queue}.dead"):
            await channel.queue_delete(name)
        await channel.exchange_delete(queue)


class Countdown:
    """Sets ``done`` once ``count`` messages were handled (every side stops the clock on it)."""

    def __init__(self, count: int) -> None:
        self.left = count
        self.done = asyncio.Event()

    def tick(self) -> None:
        self.left -= 1
        if self.left == 0:
            self.done.set()


async def seconds_to_done(broker: RabbitBroker, countdown: Countdown) -> float:
    """Seconds from ``broker.start()`` to ``countdown.done``; the broker is stopped after."""
    started = time.perf_counter()
    await broker.start()
    await countdown.done.wait()
    elapsed = time.perf_counter() - started
    await broker.stop()
    return elapsed


def plain_subscriber(
    broker: RabbitBroker, queue: str, prefetch: int, handle: Callable[..., Awaitable[None]]
) -> None:
    """``handle`` subscribed to the prepared ``queue`` (not declared again), with the prefetch."""
    broker.subscriber(RabbitQueue(queue, declare=False), channel=Channel(prefetch_count=prefetch))(
        handle
    )


async def run_hare(count: int, prefetch: int) -> float:
    queue = await prepared(count, prefetch)
    failed: set[int] = set()
    countdown = Countdown(count)

    async def handle(body: dict[str, Any]) -> None:
        if body["id"] not in failed:
            failed.add(body["id"])
            msg = "first attempt fails"
            raise RuntimeError(msg)
        countdown.tick()

    elapsed = await seconds_to_done(hare_broker(queue, prefetch, handle), countdown)
    await delete(queue)
    return count / elapsed


async def run_aio_pika(count: int, prefetch: int) -> float:
    queue = await prepared(count, prefetch)
    countdown = Countdown(count)
    connection = await aio_pika.connect(URL)
    started = time.perf_counter()
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=prefetch)
        source = await channel.declare_queue(queue, passive=True)

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            body = json.loads(message.body)
            headers = dict(message.headers or {})
            if not headers.get("retry_count"):
                copy = aio_pika.Message(
                    message.body,
                    headers={**headers, "retry_count": 1},
                    content_type=message.content_type,
                    message_id=message.message_id,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                )
                await channel.default_exchange.publish(copy, routing_key=f"{queue}.delay")
                await message.ack()
                return
            assert body["id"] >= 0
            await message.ack()
            countdown.tick()

        tag = await source.consume(on_message)
        await countdown.done.wait()
        elapsed = time.perf_counter() - started
        await source.cancel(tag)
    await delete(queue)
    return count / elapsed


async def run_faststream(count: int, prefetch: int) -> float:
    """The same work as a plain FastStream subscriber written by hand: a first delivery is
    published (confirmed, persistent, ``retry_count`` header) to ``Q.delay``, then the handler
    returns and FastStream acks; the second delivery is handled. This is a FastStream user
    rolling their own retry: FastStream hands a subscriber's messages to the handler one at a
    time, so each copy's confirm is awaited before the next message is handled."""
    queue = await prepared(count, prefetch)
    countdown = Countdown(count)
    broker = RabbitBroker(URL, logger=None)

    async def handle(body: dict[str, Any], message: RabbitMessage) -> None:
        headers = message.headers
        if not headers.get("retry_count"):
            await broker.publish(
                message.body,
                queue=f"{queue}.delay",
                headers={**headers, "retry_count": 1},
                message_id=message.message_id,
                content_type=message.content_type,
                persist=True,
            )
            return
        assert body["id"] >= 0
        countdown.tick()

    plain_subscriber(broker, queue, prefetch, handle)
    elapsed = await seconds_to_done(broker, countdown)
    await delete(queue)
    return count / elapsed


async def consume_only(count: int, prefetch: int, *, faststream: bool) -> float:
    """Seconds to consume and ack ``count`` messages that all succeed: plain FastStream's
    subscriber or an aio-pika callback. Their difference per message is what FastStream's
    per-delivery pipeline costs over a bare callback, paid twice per retry cycle."""
    queue = await prepared(count, prefetch)
    countdown = Countdown(count)
    if faststream:
        broker = RabbitBroker(URL, logger=None)

        async def handle(body: dict[str, Any]) -> None:
            countdown.tick()

        plain_subscriber(broker, queue, prefetch, handle)
        elapsed = await seconds_to_done(broker, countdown)
    else:
        started = time.perf_counter()
        connection = await aio_pika.connect(URL)
        async with connection:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=prefetch)
            source = await channel.declare_queue(queue, passive=True)

            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                json.loads(message.body)
                await message.ack()
                countdown.tick()

            await source.consume(on_message)
            await countdown.done.wait()
            elapsed = time.perf_counter() - started
    await delete(queue)
    return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--prefetch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    raw_rates, plain_rates, hare_rates = [], [], []
    for _ in range(args.rounds):
        raw_rates.append(await run_aio_pika(args.messages, args.prefetch))
        plain_rates.append(await run_faststream(args.messages, args.prefetch))
        hare_rates.append(await run_hare(args.messages, args.prefetch))
    raw, plain, hare = max(raw_rates), max(plain_rates), max(hare_rates)
    print(f"broker: {URL.split('@')[-1]}  messages={args.messages} prefetch={args.prefetch}")
    print(f"aio-pika by hand    : {raw:8.0f} msgs/s  (rounds: {[round(r) for r in raw_rates]})")
    print(f"FastStream by hand  : {plain:8.0f} msgs/s  (rounds: {[round(r) for r in plain_rates]})")
    print(f"hare                : {hare:8.0f} msgs/s  (rounds: {[round(r) for r in hare_rates]})")
    print(f"hare / aio-pika     : {hare / raw:8.2f}   (goal >= 0.9)")
    print(
        f"hare / FastStream   : {hare / plain:8.2f}   (FastStream by hand / aio-pika: "
        f"{plain / raw:.2f})"
    )
    bare = min(
        [
            await consume_only(args.messages, args.prefetch, faststream=False)
            for _ in range(args.rounds)
        ]
    )
    piped = min(
        [
            await consume_only(args.messages, args.prefetch, faststream=True)
            for _ in range(args.rounds)
        ]
    )
    per_delivery = (piped - bare) / args.messages * 1e6
    print(
        f"FastStream's pipeline: {per_delivery:.0f} us per delivery over an aio-pika callback "
        f"(consume and ack only); a retry cycle has two deliveries: {2 * per_delivery:.0f} us, "
        f"against hare's {(1 / hare - 1 / raw) * 1e6:.0f} us per message over aio-pika by hand"
    )


if __name__ == "__main__":
    asyncio.run(main())
