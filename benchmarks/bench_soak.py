"""Soak: minutes of mixed traffic with the link cut every few seconds; every id accounted for.

Run: ``.venv/bin/python benchmarks/bench_soak.py [--seconds 120] [--cut-every 5] [--rate 200]``
(``--redis redis://127.0.0.1:6379/0`` for Redis dedup instead of in-memory).

One HareBroker, connected through a FaultProxy (``tests/support/fault_proxy.py``), publishes
``{"id", "n"}`` messages with ``publish_message`` and ``unique=`` at ``--rate`` and consumes
them with a retrying subscriber (cascade ``[50, 100]``): 20 % fail once, 2 % are poison (a body
the handler's type rejects: straight to ``Q.dead``), every 25th publish repeats an id already
sent (must be ``DUPLICATE``). A ``NOT_CONNECTED`` publish is tried again with the same id.
Every ``--cut-every`` seconds the proxy aborts every connection. At the end: each id sent is
handled or in ``Q.dead``; prints ``lost``, duplicates and the recovery time of each cut (from the
cut until a message whose publish started after it is handled: reconnecting, publishing and
consuming again), and the log lines of level WARNING and above, by logger.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import time
import uuid
from collections import Counter, deque
from pathlib import Path

import aio_pika
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo's tests/support

from faststream_hare import HareBroker, HarePublisher, HareSettings, PublishResult, Unique
from tests.support.fault_proxy import FaultProxy
from tests.support.rabbit_admin import AMQP_URL, RabbitAdmin


class Job(BaseModel):
    id: str
    n: int


class LogCount(logging.Handler):
    """Counts log records (WARNING and above) by logger and level instead of printing them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()
        self.first: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        key = f"{record.name}:{record.levelname}"
        self.counts[key] += 1
        self.first.setdefault(key, record.getMessage()[:240])


class Soak:
    """The account of one run: what was sent, handled, dead-lettered, and the cuts."""

    def __init__(self) -> None:
        self.sent: list[str] = []  # ids the app wanted published (each once)
        self.handled: Counter[str] = Counter()
        self.dead: Counter[str] = Counter()
        self.failed_once: set[str] = set()
        self.results: Counter[str] = Counter()
        self.cuts: list[float] = []  # monotonic time of each cut
        self.probes: dict[str, int] = {}  # first id sent OK after cut i -> i
        self.recovery: dict[int, float] = {}

    async def handle(self, job: Job) -> None:
        if job.n % 5 == 1 and job.id not in self.failed_once:  # 20 % fail once
            self.failed_once.add(job.id)
            raise RuntimeError(f"{job.id} fails once")
        self.handled[job.id] += 1
        cut = self.probes.get(job.id)
        if cut is not None and cut not in self.recovery:
            self.recovery[cut] = time.monotonic() - self.cuts[cut]

    def settled(self) -> bool:
        return all(self.handled[i] or self.dead[i] for i in self.sent)

    def lost(self) -> list[str]:
        return [i for i in self.sent if not (self.handled[i] or self.dead[i])]

    def duplicates(self) -> int:
        return sum(count - 1 for count in (self.handled + self.dead).values() if count > 1)


def body(n: int, message_id: str) -> dict[str, object]:
    poison = n % 50 == 7  # 2 %: "n" is not an int: the handler's type rejects it
    return {"id": message_id, "n": "not a number" if poison else n}


async def publish_loop(
    publisher: HarePublisher, soak: Soak, rate: float, until: float, run: str
) -> None:
    """``publish_message`` at ``rate``; NOT_CONNECTED ids go again first, with the same body."""
    publish = publisher.publish_message
    retry: deque[dict[str, object]] = deque()
    start, n = time.monotonic(), 0
    while time.monotonic() < until or retry:
        if retry:
            message = retry.popleft()
        else:
            message = body(n, f"{run}-{n}")
            waiting = len(soak.cuts) - 1
            if waiting >= 0 and n % 5 == 0 and waiting not in soak.probes.values():
                soak.probes[str(message["id"])] = waiting  # a plain message sent after cut i
            n += 1
            soak.sent.append(str(message["id"]))
        result = await publish(message)
        soak.results[result.name] += 1
        if result is PublishResult.NOT_CONNECTED:
            retry.append(message)
            await asyncio.sleep(0.05)
            continue
        if result is PublishResult.OK and n % 25 == 0:  # again: must come back DUPLICATE
            again = await publish(message)
            soak.results[f"repeat:{again.name}"] += 1
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))


async def cut_loop(proxy: FaultProxy, soak: Soak, args: argparse.Namespace, until: float) -> None:
    """Cut every link and refuse new ones for ``--down`` s; a cut's clock starts when the
    proxy accepts connections again (the broker is back)."""
    while time.monotonic() + args.cut_every + args.down < until:
        await asyncio.sleep(args.cut_every)
        proxy.block()
        await asyncio.sleep(args.down)
        proxy.unblock()
        soak.cuts.append(time.monotonic())


async def drain_dead(queue: str, soak: Soak) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        dead = await channel.declare_queue(f"{queue}.dead", passive=True)
        while (message := await dead.get(no_ack=True, fail=False)) is not None:
            soak.dead[json.loads(message.body)["id"]] += 1


async def soak_run(args: argparse.Namespace) -> Soak:
    run = f"hare_soak_{uuid.uuid4().hex[:6]}"
    queue, soak = f"{run}.jobs", Soak()
    async with FaultProxy() as proxy:  # to the broker in use (tests/support/broker.py)
        settings = HareSettings(reconnect_interval_ms=1_000)
        broker = HareBroker(f"{proxy.url()}?name={run}", settings=settings, logger=None)
        broker.subscriber(queue, retry_limit=3, delay_cascade_in_ms=[50, 100], prefetch_count=10)(
            soak.handle
        )
        unique = Unique(period_ms=600_000, keys=["id"], store=args.redis)  # ids are unique per run
        publisher = broker.publisher(queue, unique=unique)
        await broker.start()
        try:
            until = time.monotonic() + args.seconds
            await asyncio.gather(
                publish_loop(publisher, soak, args.rate, until, run),
                cut_loop(proxy, soak, args, until),
            )
            deadline = time.monotonic() + 120
            while not soak.settled() and time.monotonic() < deadline:
                await drain_dead(queue, soak)
                await asyncio.sleep(0.5)
            await drain_dead(queue, soak)
        finally:
            await broker.stop()
            await asyncio.to_thread(RabbitAdmin().delete_prefix, run)
    return soak


def report(soak: Soak, args: argparse.Namespace, logs: LogCount) -> None:
    for cut, at in enumerate(soak.cuts):
        shown = f"{soak.recovery[cut]:.2f}" if cut in soak.recovery else "n/a"
        print(f"[soak] cut {cut + 1} at {at - soak.cuts[0]:6.1f} s: recovery_s={shown}")
    times = sorted(soak.recovery.values()) or [float("nan")]
    poison = sum(1 for i in soak.sent if int(i.rsplit("-", 1)[1]) % 50 == 7)
    print(
        f"[soak] {args.seconds:.0f} s, {len(soak.sent)} ids sent, {len(soak.cuts)} cuts, "
        f"dedup {'redis' if args.redis else 'in-memory'}; results {dict(soak.results)}"
    )
    print(
        f"[soak] handled={len(soak.handled)} dead={len(soak.dead)} (poison sent: {poison}) "
        f"failed_once={len(soak.failed_once)}"
    )
    print(
        f"[soak] lost={len(soak.lost())} duplicates={soak.duplicates()} "
        f"recovery_s median={statistics.median(times):.2f} max={times[-1]:.2f}"
    )
    for key, count in logs.counts.most_common():
        print(f"[soak] log {key} x{count}, first: {logs.first[key]}")
    if soak.lost():
        print(f"[soak] LOST ids (first 20): {soak.lost()[:20]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="publishing time")
    parser.add_argument("--cut-every", type=float, default=5.0, help="seconds between cuts")
    parser.add_argument("--down", type=float, default=1.0, help="seconds each cut lasts")
    parser.add_argument("--rate", type=float, default=200.0, help="publishes per second")
    parser.add_argument("--redis", default=None, help="Redis URL for dedup (default in-memory)")
    args = parser.parse_args()
    logs = LogCount()
    logging.basicConfig(level=logging.WARNING, handlers=[logs])
    soak = asyncio.run(soak_run(args))
    report(soak, args, logs)
    sys.exit(1 if soak.lost() else 0)


if __name__ == "__main__":
    main()
