"""Another process publishing ``{"n": 0..count-1}`` with ``publish_message`` and Redis dedup.

Run as ``python -m tests.cluster.apps.publisher URL EXCHANGE ROUTING_KEY COUNT REDIS_URL``.
It retries a message until the broker confirms it (``OK``) or Redis says another process
already published it (``DUPLICATE``), paced so that a node can be killed while it runs, and
prints ``PUBLISHED <k>`` every 100 messages and one ``SUMMARY <json>`` line at the end.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter

from faststream_hare import HareBroker, HareDedupError, HareSettings, PublishResult, Unique

IN_FLIGHT = 16
PACE_PER_S = 200.0  # 3 000 take 15 s: a slow CI machine still kills mid-publish


def dedup(redis_url: str) -> Unique:
    """The same ``Unique`` in every process: the key is ``n``, kept ten minutes in Redis."""
    return Unique(period_ms=600_000, keys=["n"], store=redis_url)


async def publish_all(url: str, exchange: str, routing_key: str, count: int, redis: str) -> None:
    broker = HareBroker(url, settings=HareSettings(reconnect_interval_ms=300), logger=None)
    publisher = broker.publisher(exchange=exchange, routing_key=routing_key, unique=dedup(redis))
    results: Counter[str] = Counter()
    duplicates: list[int] = []
    attempts = 0
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def one(n: int) -> None:
        nonlocal attempts
        async with slots:
            while True:
                attempts += 1
                try:
                    result = await publisher.publish_message({"n": n})
                except HareDedupError:
                    result = None
                if result is PublishResult.OK or result is PublishResult.DUPLICATE:
                    results[result.value] += 1
                    if result is PublishResult.DUPLICATE:
                        duplicates.append(n)
                    return
                await asyncio.sleep(0.2)  # not connected (a node died): try again

    await broker.start()
    started = time.monotonic()
    watchdog = asyncio.create_task(report_stuck(slots))
    try:
        tasks = []
        for n in range(count):
            tasks.append(asyncio.create_task(one(n)))
            if n % 100 == 99:
                print(f"PUBLISHED {n + 1}", flush=True)
            ahead = (n + 1) / PACE_PER_S - (time.monotonic() - started)
            if ahead > 0:
                await asyncio.sleep(ahead)
        await asyncio.gather(*tasks)
    finally:
        watchdog.cancel()
        await broker.stop()
    summary = {
        "results": dict(results),
        "duplicates": sorted(duplicates),
        "attempts": attempts,
        "seconds": round(time.monotonic() - started, 2),
    }
    print(f"SUMMARY {json.dumps(summary)}", flush=True)


async def report_stuck(slots: asyncio.Semaphore, every_s: float = 15.0) -> None:
    """Print the stacks of publishes that have not returned for ``every_s`` (a hang is a bug)."""
    seen: set[asyncio.Task[object]] = set()
    while True:
        await asyncio.sleep(every_s)
        pending = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
        for task in pending & seen:
            if task.get_coro().__qualname__.endswith("one"):  # type: ignore[union-attr]
                print(f"STUCK {task.get_name()}", flush=True)
                task.print_stack(file=sys.stdout)
        seen = pending


if __name__ == "__main__":
    url, exchange, routing_key, count, redis = sys.argv[1:6]
    asyncio.run(publish_all(url, exchange, routing_key, int(count), redis))
