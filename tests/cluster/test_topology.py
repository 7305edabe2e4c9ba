"""Topology on the cluster: hare's quorum queues and streams are replicated on every node."""

from __future__ import annotations

import pytest

from faststream_hare import HareBroker, HareSettings
from tests.cluster.cluster import Cluster, node_name

pytestmark = pytest.mark.cluster


def cluster_broker(cluster: Cluster, name: str) -> HareBroker:
    settings = HareSettings(stream_url=cluster.stream_url, reconnect_interval_ms=500)
    return HareBroker(cluster.url(name), settings=settings, logger=None)


def test_status_lists_every_node_and_the_haproxy_urls(cluster: Cluster) -> None:
    status = cluster.status()
    assert [(n.name, n.state) for n in status.nodes] == [
        (node_name(n), "running") for n in (1, 2, 3)
    ]
    assert status.amqp_url.startswith("amqp://guest:guest@127.0.0.1:")
    assert status.stream_url.startswith("rabbitmq-stream://guest:guest@127.0.0.1:")
    assert status.amqp_url != "amqp://guest:guest@127.0.0.1:5672/"  # never the default broker


async def test_quorum_queues_and_streams_have_a_member_on_every_node(
    cluster: Cluster, cprefix: str
) -> None:
    broker = cluster_broker(cluster, cprefix)

    @broker.subscriber(
        f"{cprefix}.orders",
        exchange=f"{cprefix}.ex",
        routing_key="order",
        queue_type="quorum",
        retry_limit=2,
        delay_cascade_in_ms=[1_000, 5_000],
    )
    async def orders(body: dict[str, int]) -> None: ...

    @broker.subscriber(
        f"{cprefix}.audit", exchange=f"{cprefix}.ex", routing_key="order", stream=True
    )
    async def audit(body: dict[str, int]) -> None: ...

    everyone = sorted(node.name for node in cluster.nodes)
    await broker.start()
    try:
        plans = {sub.queue_name: sub.plan(broker.settings) for sub in broker.hare_subscribers()}
        orders_plan = plans[f"{cprefix}.orders"]
        names = [decl.name for decl in orders_plan.queues]
        assert names == [
            f"{cprefix}.orders",
            f"{cprefix}.orders.delay.1000",
            f"{cprefix}.orders.delay.5000",
            f"{cprefix}.orders.dead",
        ]
        for name in names:
            info = cluster.wait_members(name, 3)
            assert info["type"] == "quorum", name
            assert sorted(info["members"]) == everyone, name
        for name in orders_plan.delay_queues:
            arguments = cluster.queue(name)["arguments"]  # type: ignore[index]
            assert arguments["x-dead-letter-strategy"] == "at-least-once", name
            assert arguments["x-overflow"] == "reject-publish", name
            assert arguments["x-dead-letter-exchange"] == f"{cprefix}.orders", name

        stream = cluster.wait_members(f"{cprefix}.audit", 3)
        assert stream["type"] == "stream"
        assert sorted(stream["members"]) == everyone
    finally:
        await broker.stop()
