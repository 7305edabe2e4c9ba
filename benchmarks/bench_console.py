"""The console's first page of a large dead queue: time and memory, against reading it whole.

Seeds ``--messages`` dead letters (hare's headers, three exception types) into ``Q.dead`` and
then, in one process against the same broker:

* ``page``: ``GET /queues/Q`` of the console (ASGI, no network in between): groups of the
  first ``--sample`` messages and the first 50 of them, read by a consumer with a prefetch;
* ``get``: what the console did before, ``list_dead(limit=sample)`` — one ``basic.get`` per
  message, every message kept in memory — for the same window (the ratio compares the two);
* the peak of Python memory (tracemalloc) during each, which follows the window, not the queue.

Nothing is removed: each read gives every message back, in order. The queue is deleted at the
end. Run: ``.venv/bin/python benchmarks/bench_console.py [--messages 100000] [--sample 1000]``
(needs RabbitMQ on 127.0.0.1:5672, or ``HARE_TEST_AMQP_URL``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable

import aio_pika
import httpx

from faststream_hare.ops import dead_letters
from faststream_hare.ops.console import create_console
from faststream_hare.ops.target import Target

AMQP_URL = os.environ.get("HARE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
EXCEPTIONS = ("ValueError", "TimeoutError", "KeyError")


async def seed(queue: str, count: int) -> None:
    """``queue`` and ``queue.dead`` with ``count`` dead letters, published in confirmed batches."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True)
        await channel.declare_queue(f"{queue}.dead", durable=True)
        for start in range(0, count, 1_000):
            await asyncio.gather(
                *(
                    channel.default_exchange.publish(
                        aio_pika.Message(
                            b'{"order": %d, "lines": [1, 2, 3], "note": "a dead letter"}' % i,
                            message_id=f"m{i}",
                            headers={
                                "retry_count": 3,
                                "hare-exception": EXCEPTIONS[i % 3],
                                "hare-error": f"order {i} failed",
                                "hare-dead-lettered-at": "2026-12-07T01:00:00.000Z",
                            },
                        ),
                        routing_key=f"{queue}.dead",
                    )
                    for i in range(start, min(start + 1_000, count))
                )
            )
    finally:
        await connection.close()


async def measured(run: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """(seconds, peak MiB of Python memory) of one ``run``."""
    tracemalloc.start()
    started = time.perf_counter()
    await run()
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return elapsed, peak


async def main(messages: int, sample: int, rounds: int) -> None:
    queue = f"bench_console_{uuid.uuid4().hex[:6]}"
    try:
        await run(queue, messages, sample, rounds)
    finally:
        connection = await aio_pika.connect(AMQP_URL)
        channel = await connection.channel()
        await channel.queue_delete(f"{queue}.dead")
        await channel.queue_delete(queue)
        await connection.close()


async def run(queue: str, messages: int, sample: int, rounds: int) -> None:
    print(f"seeding {messages} dead letters into {queue}.dead …", flush=True)
    started = time.perf_counter()
    await seed(queue, messages)
    print(f"seeded in {time.perf_counter() - started:.1f} s; load {os.getloadavg()[0]:.2f}")
    app = create_console(Target(url=AMQP_URL), queues=(queue,), auth="app", sample=sample)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")

    async def page() -> None:
        response = await client.get(f"/queues/{queue}")
        assert response.status_code == 200, response.status_code
        assert f"Groups and pages cover the first {sample} of" in response.text

    async def whole_window() -> None:
        letters = await dead_letters.list_dead(AMQP_URL, queue, limit=sample)
        assert len(letters) == sample

    try:
        best: dict[str, tuple[float, float]] = {}
        for _ in range(rounds):
            for name, read in (("page", page), ("get", whole_window)):
                elapsed, peak = await measured(read)
                if name not in best or elapsed < best[name][0]:
                    best[name] = (elapsed, peak)
        (page_s, page_mib), (get_s, get_mib) = best["page"], best["get"]
        print(f"queue of {messages}, window (--sample) {sample}, best of {rounds}:")
        print(f"  console first page : {page_s:6.2f} s  peak {page_mib:6.1f} MiB")
        print(f"  basic.get × window : {get_s:6.2f} s  peak {get_mib:6.1f} MiB")
        print(f"  page / get time    : {page_s / get_s:6.2f}")
        print(f"load {os.getloadavg()[0]:.2f}")
    finally:
        await client.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    asyncio.run(main(options.messages, options.sample, options.rounds))
