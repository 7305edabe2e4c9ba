"""Plain subscribers are untouched; settings come from the environment; no password leaks."""

from __future__ import annotations

import asyncio
import logging

import pytest
from faststream.rabbit import RabbitBroker

from faststream_hare import HareBroker, signals
from tests.support.amqp import depth
from tests.support.broker import AMQP_HOST, AMQP_PORT, rabbitmqctl
from tests.support.rabbit_admin import RabbitAdmin
from tests.support.waiting import eventually

pytestmark = pytest.mark.rabbit


@pytest.mark.parametrize("broker_class", [RabbitBroker, HareBroker])
async def test_plain_subscriber_behaves_as_on_rabbit_broker(
    broker_class: type[RabbitBroker], prefix: str, broker_url: str, admin: RabbitAdmin
) -> None:
    queue = f"{prefix}.plain"
    broker = broker_class(broker_url)
    seen: list[str] = []

    @broker.subscriber(queue)
    async def handle(body: str) -> None:
        seen.append(body)
        if body == "bad":
            raise RuntimeError("plain failure")

    async with broker:
        await broker.start()
        await broker.publish("good", queue=queue)
        await broker.publish("bad", queue=queue)
        await eventually(lambda: seen == ["good", "bad"])
        await asyncio.sleep(0.2)
        assert await depth(queue) == 0  # REJECT_ON_ERROR: rejected and gone, no retry

    assert seen == ["good", "bad"]
    assert admin.queue(f"{queue}.delay") is None  # no hare topology for plain subscribers
    assert admin.queue(f"{queue}.dead") is None
    assert admin.exchange(queue) is None


async def test_environment_settings_and_no_password_anywhere(
    prefix: str,
    admin: RabbitAdmin,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = f"pw-{prefix[-6:]}-Secret"
    user = f"{prefix}_user"
    rabbitmqctl("add_user", user, secret)
    rabbitmqctl("set_permissions", "-p", "/", user, ".*", ".*", ".*")
    try:
        monkeypatch.setenv("RABBITMQ_URL", "amqp://nobody:wrong@127.0.0.1:1/")
        monkeypatch.setenv(
            "HARE_MQ_URL", f"amqp://{user}:{secret}@{AMQP_HOST}:{AMQP_PORT}/?name={prefix}"
        )
        monkeypatch.setenv("HARE_MQ_DELAY_IN_MS", "1234")
        monkeypatch.setenv("HARE_MQ_RETRY_LIMIT", "0")
        monkeypatch.setenv("HARE_MQ_RECONNECT_INTERVAL_MS", "300")
        broker = HareBroker()
        payloads: list[object] = []

        connected = 0

        def record(sender: object, measurements: dict, metadata: dict) -> None:
            payloads.append((measurements, metadata))

        def count_connected(sender: object, measurements: dict, metadata: dict) -> None:
            nonlocal connected
            connected += 1

        signals.connection_connected.connect(count_connected, sender=broker)

        for sig in signals.ALL.values():
            sig.connect(record, sender=broker)
        queue = f"{prefix}.env"
        calls = 0

        @broker.subscriber(queue, hare=True)
        async def handle(body: str) -> None:
            nonlocal calls
            calls += 1
            raise RuntimeError("fail once")

        with caplog.at_level(logging.DEBUG):
            async with broker:
                await broker.start()
                info = admin.queue(f"{queue}.delay")
                assert info is not None
                assert info["arguments"]["x-message-ttl"] == 1234
                await broker.publish("x", queue=queue)
                await eventually(lambda: calls == 1)
                await asyncio.sleep(0.2)
                assert await depth(f"{queue}.dead") == 1  # retry_limit=0 from the environment
                await eventually(lambda: bool(admin.connections(prefix)))
                admin.close_connections(prefix)  # exercise the disconnect/reconnect signals
                await eventually(lambda: connected == 2, timeout=15)  # reconnected
        for sig in signals.ALL.values():
            sig.disconnect(record)
        signals.connection_connected.disconnect(count_connected)
    finally:
        rabbitmqctl("delete_user", user)

    names = {"reason" in md for _, md in payloads}  # type: ignore[misc]
    assert names == {True, False}, "disconnect signals (with a reason) and others were emitted"
    text = repr(payloads) + caplog.text  # every formatted log line, tracebacks included
    assert secret not in text
    assert f"{user}:***@" in text  # the user name is shown, the password masked
