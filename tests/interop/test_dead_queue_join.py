"""hare joins the topology HareMq declared, with DEFAULT settings.

HareMq gives ``Q.dead`` an ``x-message-ttl`` of 31 449 600 ms; hare's default is 31 449 600 000.
hare uses the existing dead queue as it is and logs one WARNING naming both values and
``HARE_MQ_MESSAGE_TTL_MS``. Any other difference (a delay, the exchange type) stays a
``HareTopologyError``.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Literal

import pytest

from faststream_hare import HareBroker, HareSettings, HareTopologyError
from tests.interop.haremq import (
    HAREMQ_DEAD_TTL_MS,
    HareMqBuild,
    Names,
    consumer_args,
    run_elixir_side,
)
from tests.interop.raw_amqp import get_all
from tests.support.amqp import depths, wait_depth
from tests.support.rabbit_admin import RabbitAdmin, classic_arguments

pytestmark = [pytest.mark.interop, pytest.mark.rabbit]

RETRY_LIMIT = 2
DELAY_MS = 500
HARE_DEFAULT_DEAD_TTL_MS = 31_449_600_000


async def haremq_declares(haremq: HareMqBuild, names: Names) -> None:
    """A HareMq consumer starts (declaring everything) and exits."""
    args = consumer_args(
        names.queue,
        exchange=names.exchange,
        routing_key=names.routing_key,
        retry_limit=RETRY_LIMIT,
        delay_ms=DELAY_MS,
        exit_after_ready=True,
    )
    async with run_elixir_side(haremq, *args) as side:
        await side.wait_for("ready", role="consumer")
        assert await side.wait_exit() == 0


def digits_only(text: str) -> str:
    """``31 449 600``, ``31_449_600`` and ``31,449,600`` all read ``31449600``."""
    return re.sub(r"(?<=\d)[ _,](?=\d)", "", text)


async def test_hare_uses_haremq_dead_queue_and_warns_once(
    names: Names,
    broker_url: str,
    haremq: HareMqBuild,
    admin: RabbitAdmin,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await haremq_declares(haremq, names)
    dead_queue = f"{names.queue}.dead"
    broker = HareBroker(broker_url)  # defaults: message_ttl_ms = 31 449 600 000
    calls: list[str] = []

    @broker.subscriber(
        names.queue,
        exchange=names.exchange,
        routing_key=names.routing_key,
        retry_limit=0,
        delay_in_ms=DELAY_MS,
    )
    async def handle(body: dict[str, Any]) -> None:
        calls.append(body["id"])
        raise RuntimeError("straight to the dead queue")

    with caplog.at_level(logging.WARNING, logger="faststream_hare"):
        async with broker:
            await broker.start()
            await broker.publish(
                {"id": "dead-1"},
                exchange=names.exchange,
                routing_key=names.routing_key,
                message_id="dead-1",
            )
            await wait_depth(dead_queue, 1)

    ttl_warnings = [
        digits_only(r.getMessage())
        for r in caplog.records
        if r.name.startswith("faststream_hare")
        and r.levelno == logging.WARNING
        and "HARE_MQ_MESSAGE_TTL_MS" in r.getMessage()
    ]
    assert len(ttl_warnings) == 1, ttl_warnings
    assert re.search(rf"\b{HAREMQ_DEAD_TTL_MS}\b", ttl_warnings[0])  # the value found
    assert re.search(rf"\b{HARE_DEFAULT_DEAD_TTL_MS}\b", ttl_warnings[0])  # the value configured
    assert dead_queue in ttl_warnings[0]
    info = admin.queue(dead_queue)
    assert info is not None
    assert classic_arguments(info) == {"x-message-ttl": HAREMQ_DEAD_TTL_MS}
    assert calls == ["dead-1"]
    dead = await get_all(dead_queue)
    assert [(m.message_id, m.headers["retry_count"]) for m in dead] == [("dead-1", 1)]
    others = (names.queue, f"{names.queue}.delay")
    assert await depths(*others) == dict.fromkeys(others, 0)


@pytest.mark.parametrize(
    ("exchange_type", "delay_in_ms", "entity_suffix", "argument"),
    [
        ("topic", DELAY_MS + 100, ".q.delay", "x-message-ttl"),
        ("direct", DELAY_MS, ".ex", "type"),
    ],
    ids=["other-delay", "other-exchange-type"],
)
async def test_any_other_difference_stays_a_topology_error(
    names: Names,
    broker_url: str,
    haremq: HareMqBuild,
    exchange_type: Literal["topic", "direct"],
    delay_in_ms: int,
    entity_suffix: str,
    argument: str,
) -> None:
    await haremq_declares(haremq, names)
    settings = HareSettings(message_ttl_ms=HAREMQ_DEAD_TTL_MS, exchange_type=exchange_type)
    broker = HareBroker(broker_url, settings=settings)

    @broker.subscriber(
        names.queue,
        exchange=names.exchange,
        routing_key=names.routing_key,
        retry_limit=RETRY_LIMIT,
        delay_in_ms=delay_in_ms,
    )
    async def handle(body: dict[str, Any]) -> None:
        return None

    async with broker:
        with pytest.raises(HareTopologyError) as caught:
            await broker.start()
    assert caught.value.entity.endswith(entity_suffix)
    assert caught.value.argument == argument
