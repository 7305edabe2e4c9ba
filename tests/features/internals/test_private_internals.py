"""hare checks at start what it relies on of FastStream's private internals.

``RetryMiddleware`` reaches a hare subscriber's messages through FastStream's private
middleware stack. A FastStream release that built the stack another way would drop it silently
and every failing message would be rejected, lost: hare refuses to start instead.
"""

from __future__ import annotations

from typing import Any

import pytest

from faststream_hare import HareBroker, HareError
from faststream_hare._internal import faststream as _faststream
from faststream_hare.retry.middleware import RetryMiddleware
from faststream_hare.subscriber import HareSubscriber
from tests.support.rabbit_admin import AMQP_URL, RabbitAdmin


def test_faststream_wraps_a_hare_subscriber_in_retry_middleware() -> None:
    broker = HareBroker()
    sub = broker.subscriber("orders", retry_limit=1)
    stack = _faststream.consume_middlewares(sub)
    assert stack is not None
    assert any(isinstance(m, RetryMiddleware) for m in stack)
    sub.check_retry_runs()  # nothing to say


def ignores_hare(self: Any) -> tuple[Any, ...]:
    """What a FastStream that no longer reads hare's override would use: the broker's only."""
    return tuple(self._outer_config.broker_middlewares)


def test_a_stack_without_retry_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(HareSubscriber, "_broker_middlewares", property(ignores_hare))
    sub = HareBroker().subscriber("orders", retry_limit=1)
    with pytest.raises(HareError, match=r"queue 'orders'.*faststream>=0.7.8,<0.8\.$"):
        sub.check_retry_runs()


def test_a_faststream_that_builds_the_stack_elsewhere_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_faststream, "consume_middlewares", lambda _: None)
    sub = HareBroker().subscriber("orders", retry_limit=1)
    with pytest.raises(HareError, match="does not start"):
        sub.check_retry_runs()


@pytest.mark.rabbit
async def test_the_broker_does_not_start_without_its_retry(
    prefix: str, admin: RabbitAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(HareSubscriber, "_broker_middlewares", property(ignores_hare))
    broker = HareBroker(f"{AMQP_URL.rstrip('/')}/?name={prefix}", logger=None)

    @broker.subscriber(f"{prefix}.orders", retry_limit=1)
    async def handle(body: str) -> None: ...

    try:
        with pytest.raises(HareError, match="a failing message would be lost"):
            await broker.start()
    finally:
        await broker.stop()
    queue = admin.queue(f"{prefix}.orders")
    assert queue is None or queue.get("consumers", 0) == 0  # never consumed without its retry
