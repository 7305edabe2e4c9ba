"""Examples use fixed ``hare_demo.*`` names (the order service ``ordersvc.*``); delete them
before and after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.rabbit_admin import RabbitAdmin
from tests.support.transport import Transport


@pytest.fixture
def demo_entities(admin: RabbitAdmin) -> Iterator[None]:
    admin.delete_prefix("hare_demo.")
    yield
    admin.delete_prefix("hare_demo.")


@pytest.fixture
def order_service_entities(admin: RabbitAdmin) -> Iterator[None]:
    """examples/order_service.py's ``ordersvc.*``: a prefix of its own, so the other examples'
    tests clearing ``hare_demo.*`` (also from other processes) never pull its exchange away."""
    admin.delete_prefix("ordersvc")
    yield
    admin.delete_prefix("ordersvc")


@pytest.fixture(params=["memory", pytest.param("rabbit", marks=pytest.mark.rabbit)])
def transport(request: pytest.FixtureRequest, admin: RabbitAdmin) -> Iterator[Transport]:
    """An example run in memory and on RabbitMQ (tests/support/transport.py); its fixed
    ``hare_demo.*`` names are cleared around the RabbitMQ run."""
    if request.param == "memory":
        yield Transport("memory", "hare_demo")
        return
    admin.delete_prefix("hare_demo.")
    yield Transport("rabbit", "hare_demo")
    admin.delete_prefix("hare_demo.")
