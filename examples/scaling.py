"""Consumer pools: named workers on one queue, resized by queue depth, unique across processes.

Run it against a local RabbitMQ with ``faststream run examples.scaling:app`` (start it twice to
see the second process keep ``hare_demo.scaling.reports.W1`` on standby).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faststream import FastStream

from faststream_hare import AutoScaling, HareBroker, signals

logger = logging.getLogger("examples.scaling")

broker = HareBroker()  # URL from HARE_MQ_URL / RABBITMQ_URL, default amqp://guest:guest@localhost
app = FastStream(broker)

JOBS = "hare_demo.scaling.jobs"
REPORTS = "hare_demo.scaling.reports"
done: list[int] = []
reports: list[str] = []


@broker.subscriber(
    JOBS,
    exchange="hare_demo.scaling_ex",
    routing_key="job.created",
    consumer_count=2,  # start with W1 and W2
    auto_scaling=AutoScaling(
        min_consumers=1,
        max_consumers=5,
        messages_per_consumer=10,  # one worker per 10 waiting jobs
        check_interval_ms=1_000,
        scale_down_cooldown_ms=3_000,  # shrink only after 3 s of lower demand
    ),
)
async def run_job(job: dict[str, Any]) -> None:
    await asyncio.sleep(job.get("seconds", 0.1))
    done.append(job["id"])


@broker.subscriber(REPORTS, cluster_unique=True)  # W1 runs in one process at a time
async def build_report(request: dict[str, str]) -> None:
    reports.append(request["name"])


@signals.auto_scaler_scaled.connect
def log_scaling(sender: Any, *, measurements: dict[str, Any], metadata: dict[str, Any]) -> None:
    logger.info(
        "%s: %s -> %s consumers (depth %s)",
        metadata["queue"],
        metadata["from"],
        metadata["to"],
        metadata["depth"],
    )


async def submit_jobs(count: int, seconds: float = 0.1) -> None:
    for n in range(count):
        await broker.publish(
            {"id": n, "seconds": seconds},
            exchange="hare_demo.scaling_ex",
            routing_key="job.created",
        )


async def handle_a_rush() -> list[str]:
    """Add a worker by hand for a known rush; the auto-scaler takes over from there."""
    pool = broker.consumer_pool(JOBS)
    await pool.add_consumer()
    return pool.list_consumers()


@app.after_startup
async def start_work() -> None:
    logger.info("job workers: %s", broker.consumer_pool(JOBS).list_consumers())
    await submit_jobs(60)
