"""``cluster_unique`` across processes on the cluster: kill the holder of W1, the other takes it.

Two ``faststream run`` processes (connected through HAProxy, so possibly to different nodes)
ask for the same worker; the one standing by takes over once the holder dies (SIGKILL: no
clean release, the broker notices the lost connection). The take-over time is printed.
"""

from __future__ import annotations

import time

import pytest

from faststream_hare import HareBroker
from tests.cluster.cluster import Cluster
from tests.cluster.processes import Process

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]

APP = "tests.cluster.apps.unique_app:app"


def start_app(cluster: Cluster, queue: str, name: str) -> Process:
    return Process.faststream(
        APP,
        env={
            "HARE_MQ_URL": cluster.url(name),
            "HARE_MQ_RECONNECT_INTERVAL_MS": "300",
            "HARE_CLUSTER_TEST_QUEUE": queue,
        },
    )


async def test_the_standby_process_takes_over_a_killed_holder(
    cluster: Cluster, cprefix: str
) -> None:
    queue = f"{cprefix}.jobs"
    worker = f"{queue}.W1"
    first = start_app(cluster, queue, f"{cprefix}-a")
    second: Process | None = None
    sender = HareBroker(cluster.url(f"{cprefix}-sender"), logger=None)
    try:
        await first.wait_for(lambda: first.last("HELD") == worker, "a holds W1", 60)
        second = start_app(cluster, queue, f"{cprefix}-b")
        await second.wait_for(lambda: second.last("HELD") == "", "b stands by", 60)
        await sender.start()
        await sender.publish({"n": 1}, queue)
        await first.wait_for(lambda: first.last("HANDLED") == "1", "a handles 1", 30)
        standing_by = list(second.lines)  # what b printed while a held W1

        killed_at = time.monotonic()
        first.kill()
        await second.wait_for(lambda: second.last("HELD") == worker, "b takes W1", 30)
        takeover_s = time.monotonic() - killed_at
        print(f"\n{worker} taken over {takeover_s:.1f} s after its holder was killed")

        await sender.publish({"n": 2}, queue)
        await second.wait_for(lambda: second.last("HANDLED") == "2", "b handles 2", 30)
        assert first.last("HANDLED") == "1"
        assert second.last("HANDLED") == "2"
        # the standby consumed nothing while a held W1. After the kill it may see 1 once more
        # (the kill can land between handling 1 and the ack reaching the broker:
        # at-least-once), and even before it prints HELD: that line comes from a 50 ms poll
        # of the pool, which can lag behind the first delivery
        assert not [line for line in standing_by if line.startswith("HANDLED")]
    finally:
        await sender.stop()
        first.kill()
        if second is not None:
            second.stop()
