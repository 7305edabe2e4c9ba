"""A 3-node RabbitMQ cluster behind HAProxy for the whole session (``scripts/cluster.sh``).

``up`` runs once; ``down`` runs in a ``finally``, so a failed run leaves nothing behind
(``HARE_CLUSTER_KEEP=1`` keeps the cluster for the next run while developing). When the
script cannot run on this machine, every cluster test is skipped with the reason.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator

import pytest

from tests.cluster.cluster import Cluster, parse_status, run_script, unusable_reason


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "cluster: needs scripts/cluster.sh (3 RabbitMQ nodes and HAProxy on this machine)",
    )


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    reason = unusable_reason()
    if reason is not None:
        pytest.skip(reason)
    try:
        yield Cluster(parse_status(run_script("up")))
    finally:
        if os.environ.get("HARE_CLUSTER_KEEP") != "1":
            run_script("down", timeout=120)


@pytest.fixture
def cprefix(request: pytest.FixtureRequest, cluster: Cluster) -> Iterator[str]:
    """A name prefix unique to this test; its queues and exchanges are deleted after."""
    slug = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:30]
    value = f"hare_c_{slug}_{uuid.uuid4().hex[:6]}"
    yield value
    cluster.delete_prefix(value)
