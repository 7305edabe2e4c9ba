"""The stress suite runs only through ``scripts/stress.sh`` (``HARE_STRESS_RUNS`` set)."""

from __future__ import annotations

import os

import pytest

from tests.faults.conftest import account, fault_proxy, stream_proxy

__all__ = ["account", "fault_proxy", "stream_proxy"]


def runs() -> int:
    """How many rounds each stress test repeats (``scripts/stress.sh [N]``, 50 by default)."""
    return int(os.environ.get("HARE_STRESS_RUNS", "0"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if runs() > 0:
        return
    skip = pytest.mark.skip(reason="stress runs only via scripts/stress.sh (HARE_STRESS_RUNS)")
    for item in items:
        if "tests/stress/" in str(item.fspath):
            item.add_marker(skip)
