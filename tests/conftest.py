"""Shared fixtures: unique entity names per test, and cleanup of what a test declared."""

from __future__ import annotations

import logging
import re
import shutil
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest

from faststream_hare import signals
from tests.support import broker
from tests.support.rabbit_admin import AMQP_URL, RabbitAdmin
from tests.support.redis_server import ThrowawayRedis


@pytest.fixture
def duplicates() -> Iterator[list[dict[str, Any]]]:
    """The metadata of every ``consumer.message.duplicate`` signal sent during the test."""
    seen: list[dict[str, Any]] = []

    def receive(sender: Any, measurements: Any, metadata: dict[str, Any]) -> None:
        seen.append(metadata)

    signals.consumer_message_duplicate.connect(receive)
    yield seen
    signals.consumer_message_duplicate.disconnect(receive)


@pytest.fixture
def throwaway_redis(tmp_path: Path) -> Iterator[ThrowawayRedis]:
    """A ``redis-server`` of the test's own (not started yet), stopped after the test."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (scripts/setup-services.sh installs it)")
    server = ThrowawayRedis(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def admin() -> RabbitAdmin:
    return RabbitAdmin()


@pytest.fixture
def prefix(request: pytest.FixtureRequest, admin: RabbitAdmin) -> Iterator[str]:
    """A name prefix unique to this test; every queue/exchange under it is deleted after."""
    slug = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40]
    value = f"hare_t_{slug}_{uuid.uuid4().hex[:6]}"
    yield value
    if request.node.get_closest_marker("rabbit"):
        admin.delete_prefix(value)


@pytest.fixture
def amqp_url() -> str:
    return AMQP_URL


@pytest.fixture
async def channel() -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    """A raw aio-pika channel on a connection of the test's own, to look at queues."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        yield await connection.channel()
    finally:
        await connection.close()


def pytest_report_header(config: pytest.Config) -> str:
    """The first lines of every run say which RabbitMQ it tests, and where."""
    return f"rabbitmq: {broker.version() or 'not reachable'} at {broker.where()}"


@pytest.fixture(autouse=True)
def _clean_hare_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start from default settings unless they set HARE_MQ_* themselves; apps of the
    broker tests that take their settings from the environment reach the broker in use."""
    import os

    for key in list(os.environ):
        if key.startswith("HARE_MQ_") or key == "RABBITMQ_URL":
            monkeypatch.delenv(key, raising=False)
    if request.node.get_closest_marker("rabbit"):
        for key, value in broker.app_environment().items():
            monkeypatch.setenv(key, value)


@pytest.fixture
def broker_url(prefix: str) -> str:
    """The test broker URL; the connection is named after the test's prefix."""
    return f"{AMQP_URL.rstrip('/')}/?name={prefix}"


class _AsyncioLeaks(logging.Handler):
    """Collects asyncio's "Task was destroyed but it is pending" reports about hare's tasks."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if "was destroyed but it is pending" in text and (
            "faststream_hare" in text or "hare-" in text
        ):
            self.leaks.append(text[:500])


@pytest.fixture(scope="session", autouse=True)
def _no_leaked_hare_tasks() -> Iterator[None]:
    """The run fails when a task hare started was left pending."""
    handler = _AsyncioLeaks()
    logging.getLogger("asyncio").addHandler(handler)
    try:
        yield
    finally:
        logging.getLogger("asyncio").removeHandler(handler)
    assert handler.leaks == [], "hare left tasks pending:\n" + "\n".join(handler.leaks)


_HARE_WARNINGS: list[str] = []


def pytest_warning_recorded(warning_message: warnings.WarningMessage, when: str) -> None:
    """Collect "Unclosed …" / never-awaited warnings that point at hare's code."""
    text = str(warning_message.message)
    from_hare = "faststream_hare" in str(warning_message.filename) or "faststream_hare" in text
    unclosed = issubclass(warning_message.category, ResourceWarning) or "Unclosed" in text
    never_awaited = "was never awaited" in text
    if from_hare and (unclosed or never_awaited):
        _HARE_WARNINGS.append(f"{warning_message.category.__name__}: {text[:300]}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run with such warnings from hare fails (hare leaves nothing open)."""
    if _HARE_WARNINGS and exitstatus == 0:
        print("\nhare left resources open or coroutines unawaited:\n" + "\n".join(_HARE_WARNINGS))
        session.exitstatus = 1
