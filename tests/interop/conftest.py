"""Fixtures for the interop tests: the real Elixir HareMq, built once per session."""

from __future__ import annotations

import pytest

from tests.interop.haremq import HareMqBuild, Names, build_haremq


def pytest_configure(config: pytest.Config) -> None:
    """Register ``interop`` here too, so these tests run before pyproject lists the marker."""
    if not any(line.startswith("interop:") for line in config.getini("markers")):
        config.addinivalue_line(
            "markers", "interop: runs the real Elixir HareMq 1.5.0 next to hare (needs elixir)"
        )


@pytest.fixture(scope="session")
def haremq() -> HareMqBuild:
    """HareMq built by scripts/setup-elixir.sh; the tests skip only when Elixir cannot be had."""
    build = build_haremq()
    if isinstance(build, str):
        pytest.skip(build)
    return build


@pytest.fixture
def names(prefix: str) -> Names:
    return Names(queue=f"{prefix}.q", exchange=f"{prefix}.ex", routing_key=f"{prefix}.key")
