"""The ``transport`` fixture: each scenario of a feature runs in memory and on RabbitMQ.

The RabbitMQ run carries the ``rabbit`` marker, so ``-m "not rabbit"`` keeps only the in-memory
runs (docs/testing.md).
"""

from __future__ import annotations

import pytest

from tests.support.transport import Transport


@pytest.fixture(params=["memory", pytest.param("rabbit", marks=pytest.mark.rabbit)])
def transport(request: pytest.FixtureRequest, prefix: str) -> Transport:
    return Transport(request.param, prefix)
