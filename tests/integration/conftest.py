"""Fixtures for real-broker tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aio_pika
import pytest

from tests.support.rabbit_admin import AMQP_URL


@pytest.fixture
async def channel() -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    """A raw aio-pika channel on a connection of the test's own, to look at queues."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        yield await connection.channel()
    finally:
        await connection.close()
