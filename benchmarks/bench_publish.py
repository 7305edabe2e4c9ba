"""Publishing throughput: plain FastStream and raw aio-pika vs hare's publishers.

Every run publishes with publisher confirms to a queue bound to a topic exchange, in one
process against local RabbitMQ. One after the other (each call waits for its confirm):

* plain: ``broker.publish(dict, exchange=E, routing_key=R, persist=True)`` (FastStream);
* hare: ``publish_message`` without dedup, with the in-memory store, with the Redis store;
* the floor of a Redis claim before a publish: a ``SET NX PX`` on a bare socket, then
  ``publish_message`` without dedup.

Pipelined (up to 256 confirms pending on one channel, batches of ``--batch`` messages):

* raw aio-pika: the ceiling — JSON-encode, ``exchange.publish(mandatory=True)`` per message
  on a confirm channel, the same worker pattern as hare;
* hare: ``publish_many`` without dedup, with the in-memory store, with the Redis store.

Then one Redis claim alone (its round trip), the in-memory dedup check alone (claims/s) and
the memory 1 000 000 entries take. The load average is printed before and after: on a shared
machine, read the ratios, not the rates.

Run: ``.venv/bin/python benchmarks/bench_publish.py [--messages 20000] [--batch 500]``
(needs RabbitMQ on 127.0.0.1:5672 and, for the Redis run, Redis on 127.0.0.1:6379).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable

import aio_pika

from faststream_hare import HareBroker, HareSettings, PublishResult, Unique
from faststream_hare.dedup import MemoryDedupStore, RedisDedupStore
from faststream_hare.dedup.keys import dedup_key, destination_namespace

AMQP_URL = os.environ.get("HARE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("HARE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def timed(
    count: int,
    rounds: int,
    runs: dict[str, Callable[[int], Awaitable[object]]],
    *,
    warmup: int = 300,
    offset: int = 0,
) -> dict[str, tuple[float, float]]:
    """(calls/s, client CPU µs per call) of each run: ``count`` sequential calls, interleaved
    in ``rounds`` so that drift on a shared machine hits every run alike."""
    elapsed = dict.fromkeys(runs, 0.0)
    cpu = dict.fromkeys(runs, 0.0)
    for publish in runs.values():
        for i in range(warmup):  # warm up channels and caches
            await publish(-i - 1 - offset)
    rounds = min(rounds, count)
    per_round = count // rounds
    names = list(runs)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate the order
            publish = runs[name]
            started, cpu_started = time.perf_counter(), time.process_time()
            for i in range(r * per_round, (r + 1) * per_round):
                await publish(i + offset)
            elapsed[name] += time.perf_counter() - started
            cpu[name] += time.process_time() - cpu_started
    total = per_round * rounds
    return {name: (total / elapsed[name], cpu[name] / total * 1e6) for name in runs}


Runs = dict[str, Callable[[int], Awaitable[object]]]


async def publishing(count: int, rounds: int, batch: int) -> dict[str, tuple[float, float]]:
    prefix = f"hare_bench_{uuid.uuid4().hex[:6]}"
    exchange, routing_key, queue = f"{prefix}_ex", "bench.order", f"{prefix}_q"
    broker = HareBroker(AMQP_URL, settings=HareSettings(url=AMQP_URL))
    run = uuid.uuid4().hex  # fresh dedup keys in Redis for every run
    plain_pub = broker.publisher(exchange=exchange, routing_key=routing_key, hare=True)
    memory_pub = broker.publisher(
        exchange=exchange, routing_key=routing_key, unique=Unique(period_ms=600_000)
    )
    redis_store = RedisDedupStore(REDIS_URL, name=f"bench{run}")
    redis_pub = broker.publisher(
        exchange=exchange,
        routing_key=routing_key,
        unique=Unique(period_ms=600_000, store=redis_store),
    )
    await broker.start()
    connection = await aio_pika.connect(AMQP_URL)
    channel = await connection.channel()
    bench_queue = await channel.declare_queue(queue, arguments={"x-max-length": 1000})
    await bench_queue.bind(exchange, routing_key)
    raw_channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    bare_reader, bare_writer = await asyncio.open_connection("127.0.0.1", 6379)
    raw_exchange = await raw_channel.get_exchange(exchange, ensure=False)

    def order(i: int) -> dict[str, object]:
        return {"order_id": i, "run": run, "customer": "c-42", "total": 99.5, "items": [1, 2, 3]}

    def orders(first: int) -> list[dict[str, object]]:
        return [order(first * batch + i) for i in range(batch)]

    async def raw_pipelined(first: int) -> None:
        pending = iter(orders(first))

        async def worker() -> None:
            for message in pending:
                body = json.dumps(message, separators=(",", ":")).encode()
                await raw_exchange.publish(
                    aio_pika.Message(
                        body,
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        message_id=uuid.uuid4().hex,
                    ),
                    routing_key=routing_key,
                    mandatory=True,
                )

        await asyncio.gather(*(worker() for _ in range(256)))

    async def bare_set_then_publish(i: int) -> None:
        """The floor of any claim-then-publish: a ``SET NX PX`` on a bare socket (no store,
        no key, no checks), then ``publish_message`` without dedup."""
        key = f"{redis_store.prefix}bare:{i}"
        bare_writer.write(_resp("SET", key, uuid.uuid4().hex, "NX", "PX", "600000"))
        if await bare_reader.readline() != b"+OK\r\n":
            raise RuntimeError("the bare SET was not stored")
        await _ok(plain_pub.publish_message(order(i)))

    sequential: Runs = {
        "plain broker.publish": lambda i: broker.publish(
            order(i), exchange=exchange, routing_key=routing_key, persist=True
        ),
        "publish_message, no dedup": lambda i: _ok(plain_pub.publish_message(order(i))),
        "publish_message, memory dedup": lambda i: _ok(memory_pub.publish_message(order(i))),
        "publish_message, redis dedup": lambda i: _ok(redis_pub.publish_message(order(i))),
        "bare SET + publish_message": bare_set_then_publish,
    }
    pipelined: Runs = {
        "raw aio-pika, pipelined": raw_pipelined,
        "publish_many, no dedup": lambda i: _all_ok(plain_pub.publish_many(orders(i))),
        "publish_many, memory dedup": lambda i: _all_ok(memory_pub.publish_many(orders(i))),
        "publish_many, redis dedup": lambda i: _all_ok(redis_pub.publish_many(orders(i))),
    }
    try:
        results = await timed(count, rounds, sequential)
        # a "message" of ``timed`` is one batch here; offsets keep the dedup keys fresh
        batches = await timed(max(count // batch, 1), rounds, pipelined, warmup=3, offset=10**6)
        results.update({name: (rate * batch, cpu / batch) for name, (rate, cpu) in batches.items()})
        results.update(
            await timed(
                count // 4,
                rounds,
                {"redis claim alone": lambda i: redis_store.claim(f"claim-{i}", 600_000)},
            )
        )
    finally:
        await bench_queue.delete(if_unused=False, if_empty=False)
        await channel.exchange_delete(exchange)
        await connection.close()
        bare_writer.close()
        await redis_store.clear()
        await redis_store.aclose()
        await broker.dedup_stores.aclose()
        await broker.stop()
    return results


async def _ok(call: Awaitable[PublishResult]) -> None:
    result = await call
    if result is not PublishResult.OK:
        raise RuntimeError(f"publish_message returned {result}")


async def _all_ok(call: Awaitable[list[PublishResult]]) -> None:
    results = set(await call)
    if results != {PublishResult.OK}:
        raise RuntimeError(f"publish_many returned {sorted(results)}")


def dedup_check(count: int) -> tuple[float, float]:
    """(claims/s of key + claim, claims/s of the claim alone) on the memory store."""
    store = MemoryDedupStore()
    namespace = destination_namespace("orders_ex", "order.created")
    messages = [{"order_id": i, "customer": "c-42", "total": 99.5} for i in range(count)]
    started = time.perf_counter()
    keys = [dedup_key(m, ("order_id",), namespace) for m in messages]
    for key in keys:
        store.claim_now(key, 60_000)
    with_key = count / (time.perf_counter() - started)
    store.clear()
    started = time.perf_counter()
    for key in keys:
        store.claim_now(key, 60_000)
    claim_only = count / (time.perf_counter() - started)
    return with_key, claim_only


def memory_of_entries(count: int) -> float:
    """MiB a memory store holds for ``count`` entries, keys included (tracemalloc)."""
    namespace = destination_namespace("orders_ex", "order.created")
    gc.collect()
    tracemalloc.start()
    baseline = tracemalloc.take_snapshot()
    store = MemoryDedupStore(max_entries=count)
    for i in range(count):
        store.claim_now(dedup_key({"order_id": i}, (), namespace), 60_000)
    gc.collect()
    used = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(baseline, "filename"))
    tracemalloc.stop()
    assert len(store) == count
    return used / 2**20


def _resp(*args: str) -> bytes:
    """One command as a RESP array of bulk strings (the bare-socket floor only)."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(parts)


def _load() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args()

    print(f"load average before: {_load()}")
    results = asyncio.run(publishing(args.messages, args.rounds, args.batch))
    print(f"load average after:  {_load()}")
    print(f"{args.messages} messages each, publisher confirms; ratio to the first of each group")
    groups = (
        ("sequential", "plain broker.publish", list(results)[:5]),
        (f"pipelined, batches of {args.batch}", "raw aio-pika, pipelined", list(results)[5:9]),
    )
    for title, base, names in groups:
        print(f" {title}")
        rate0, cpu0 = results[base]
        for name in names:
            rate, cpu_us = results[name]
            print(
                f"  {name:30} {rate:7.0f} msgs/s  ratio {rate / rate0:4.2f}   "
                f"client CPU {cpu_us:5.1f} µs/msg  ratio {cpu0 / cpu_us:4.2f}"
            )
    rate, cpu_us = results["redis claim alone"]
    print(f" one Redis claim (SET NX PX), alone: {1e6 / rate:5.1f} µs, client CPU {cpu_us:5.1f} µs")
    print(" the goals")
    goals = (
        ("publish_message, redis dedup", "publish_message, no dedup", "goal cost <= 1.5x"),
        (
            "bare SET + publish_message",
            "publish_message, no dedup",
            "the floor of any claim before a publish",
        ),
        ("publish_many, no dedup", "raw aio-pika, pipelined", "goal >= 0.80"),
        ("publish_many, redis dedup", "publish_many, no dedup", "goal >= 0.75"),
    )
    for name, base, goal in goals:
        ratio = results[name][0] / results[base][0]
        print(f"  {name} / {base}: {ratio:4.2f} (cost {1 / ratio:4.2f}x; {goal})")
    with_key, claim_only = dedup_check(200_000)
    print(
        f"in-memory dedup check: key+claim {with_key:,.0f} ops/s, "
        f"claim alone {claim_only:,.0f} ops/s"
    )
    mib = memory_of_entries(args.entries)
    print(
        f"memory store with {args.entries:,} entries: {mib:.0f} MiB "
        f"({mib * 2**20 / args.entries:.0f} B/entry)"
    )


if __name__ == "__main__":
    main()
