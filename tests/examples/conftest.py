"""Examples use fixed ``hare_demo.*`` names (the order service ``ordersvc.*``); delete them
before and after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.rabbit_admin import RabbitAdmin


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
