"""Examples use fixed ``hare_demo.*`` names; delete them before and after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.rabbit_admin import RabbitAdmin


@pytest.fixture
def demo_entities(admin: RabbitAdmin) -> Iterator[None]:
    admin.delete_prefix("hare_demo.")
    yield
    admin.delete_prefix("hare_demo.")
