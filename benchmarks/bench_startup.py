"""Start-up time as subscribers grow: N hare subscribers vs the same N plain ones.

* plain: ``RabbitBroker`` with N ``@broker.subscriber(queue)``;
* hare: ``HareBroker`` with N ``@broker.subscriber(queue, delay_cascade_in_ms=[1000, 5000])``
  (each declares its exchange, ``Q``, two delay queues, ``Q.dead`` and their bindings before it
  consumes: about five entities per subscriber where plain FastStream declares one).

Each run times ``await broker.start()`` twice: first against queues that do not exist yet (the
broker creates every entity: its metadata store writes them one by one, so a first start of
hare creates about five times what plain FastStream creates), then again after ``stop()``,
when everything exists (an app's every later start). Then it deletes what it declared. Runs
alternate (plain, hare) over ``--rounds`` so that drift on a shared machine hits both alike;
the ratios are hare / plain of the medians. The client's CPU time is printed beside the wall
time: on a shared machine the wall time follows whatever else runs, the CPU time much less.

Run: ``.venv/bin/python benchmarks/bench_startup.py [--subscribers 200 1000] [--rounds 3]``
(RabbitMQ at ``HARE_TEST_AMQP_URL``, default ``amqp://guest:guest@127.0.0.1:5672/``; set
``HARE_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5673/`` for the 4.0 node beside it).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import time
import uuid

import aio_pika
from faststream.rabbit import RabbitBroker

from faststream_hare import HareBroker

AMQP_URL = os.environ.get("HARE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
CASCADE = [1_000, 5_000]


async def handle(body: str) -> None:
    """Never called: nothing is published."""


def plain_broker(names: list[str]) -> RabbitBroker:
    broker = RabbitBroker(AMQP_URL, logger=None)
    for name in names:
        broker.subscriber(name)(handle)
    return broker


def hare_broker(names: list[str]) -> HareBroker:
    broker = HareBroker(AMQP_URL, logger=None)
    for name in names:
        broker.subscriber(name, delay_cascade_in_ms=CASCADE)(handle)
    return broker


Timing = tuple[float, float]  # (wall seconds, client CPU seconds)


async def time_start(broker: RabbitBroker) -> Timing:
    began, cpu = time.perf_counter(), time.process_time()
    await broker.start()
    elapsed = time.perf_counter() - began, time.process_time() - cpu
    await broker.stop()
    return elapsed


async def drop(names: list[str], hare: bool) -> None:
    """Delete every queue and exchange the run declared (a few channels at once)."""
    connection = await aio_pika.connect(AMQP_URL)
    try:

        async def drop_one(channel: aio_pika.abc.AbstractChannel, name: str) -> None:
            await channel.queue_delete(name)
            if hare:
                for suffix in (*(f".delay.{ms}" for ms in CASCADE), ".dead"):
                    await channel.queue_delete(name + suffix)
                await channel.exchange_delete(name)

        channels = [await connection.channel() for _ in range(8)]
        for start in range(0, len(names), len(channels)):
            batch = names[start : start + len(channels)]
            await asyncio.gather(*(drop_one(c, n) for c, n in zip(channels, batch, strict=False)))
    finally:
        await connection.close()


async def one(count: int, hare: bool) -> tuple[Timing, Timing]:
    """(first start, start again) of ``count`` subscribers."""
    names = [f"bench_startup_{uuid.uuid4().hex[:8]}_{i}" for i in range(count)]
    broker = hare_broker(names) if hare else plain_broker(names)
    try:
        return await time_start(broker), await time_start(broker)
    finally:
        await drop(names, hare)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    print(f"broker: {AMQP_URL.split('@')[-1]}")
    print(
        "| subscribers | start | plain FastStream (s) | hare, cascade of 2 (s) | hare / plain "
        "| client CPU plain / hare (s) | CPU hare / plain |"
    )
    print("|---|---|---|---|---|---|---|")
    for count in args.subscribers:
        plain: list[tuple[Timing, Timing]] = []
        hare: list[tuple[Timing, Timing]] = []
        for _ in range(args.rounds):
            plain.append(await one(count, hare=False))
            hare.append(await one(count, hare=True))
        for index, label in enumerate(("first (creates)", "again (exists)")):
            p = statistics.median(run[index][0] for run in plain)
            h = statistics.median(run[index][0] for run in hare)
            pc = statistics.median(run[index][1] for run in plain)
            hc = statistics.median(run[index][1] for run in hare)
            print(
                f"| {count} | {label} | {p:.2f} | {h:.2f} | {h / p:.2f} "
                f"| {pc:.2f} / {hc:.2f} | {hc / pc:.2f} |"
            )


if __name__ == "__main__":
    asyncio.run(main())
