"""Looking does not disturb: page views of a quorum ``Q.dead`` in Chromium, counted by id.

Each view reads the head of ``Q.dead`` and gives every message back. RabbitMQ 4.0 gives a quorum
queue that sets no delivery limit one of 20 and drops a message returned more often, so these
tests view hare's own quorum ``Q.dead`` 25 times and check with a plain reader of their own
that every message is there again as soon as a page has loaded, in its place, none dropped.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aio_pika
import pytest

from faststream_hare import HareBroker
from faststream_hare.ops.console import create_app
from tests.browser.server import serve
from tests.support.amqp import drain as drain_queue
from tests.support.broker import AMQP_URL, MGMT_URL
from tests.support.pools import running

pytestmark = [pytest.mark.rabbit, pytest.mark.browser]

IDS = [f"look-{n:02}" for n in range(30)]
#: More page views than RabbitMQ 4.0's default delivery limit of a quorum queue (20).
VIEWS = 25
#: How long after a page has loaded the plain reader may still see fewer than all: the
#: console gave everything back before it answered; a quorum queue's count follows a moment
#: (one Raft round) later.
SETTLE_S = 2.0
#: The longest a page view may keep a message from another reader: reading 30 takes some
#: 0.1 s; a browse that waited out its patience for messages it already had took 5 s.
HIDDEN_AT_MOST_S = 2.0


async def quorum_dead_queue(prefix: str, broker_url: str) -> HareBroker:
    """A quorum subscriber's topology as hare declares it, and ``IDS`` in ``Q.dead``, in order."""
    broker = HareBroker(broker_url, logger=None)

    @broker.subscriber(prefix, queue_type="quorum", retry_limit=3)
    async def orders(body: str) -> None: ...

    async with running(broker):
        pass
    await fill_dead(f"{prefix}.dead")
    return broker


async def fill_dead(name: str) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()  # publisher confirms: each one is in the queue
        for n, message_id in enumerate(IDS):
            exception = "ValueError" if n % 3 else "TimeoutError"
            headers = {"hare-exception": exception, "hare-error": f"failed {message_id}"}
            await channel.default_exchange.publish(
                aio_pika.Message(message_id.encode(), message_id=message_id, headers=headers),
                routing_key=name,
            )
    finally:
        await connection.close()


async def ready_and_consumers(channel: aio_pika.abc.AbstractChannel, name: str) -> tuple[int, int]:
    """Ready messages and consumers of ``name`` by a passive declare, which takes nothing."""
    queue = await channel.declare_queue(name, passive=True)
    result = queue.declaration_result
    return int(result.message_count or 0), int(result.consumer_count or 0)


async def wait_all_ready(
    channel: aio_pika.abc.AbstractChannel, name: str, expected: int = len(IDS)
) -> float:
    """Seconds until ``expected`` messages are ready again and nobody consumes ``name``."""
    began = time.monotonic()
    while (seen := await ready_and_consumers(channel, name)) != (expected, 0):
        waited = time.monotonic() - began
        assert waited < SETTLE_S, f"{seen} (ready, consumers) {waited:.2f} s after a page view"
        await asyncio.sleep(0.02)
    return time.monotonic() - began


async def longest_hidden(name: str, stop: asyncio.Event) -> float:
    """Watch ``name`` by passive declares until ``stop``: the longest stretch in which fewer
    than all of ``IDS`` were ready."""
    longest, since = 0.0, None
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        while not stop.is_set():
            ready, _ = await ready_and_consumers(channel, name)
            now = time.monotonic()
            since = None if ready == len(IDS) else since or now
            longest = max(longest, now - (since or now))
            await asyncio.sleep(0.01)
        return longest
    finally:
        await connection.close()


async def drain(name: str, expected: int = len(IDS)) -> list[str]:
    """Every message id in ``name``, head first, taken with ``basic.get`` and acked: the one
    read of the test that removes, so the one that adds no return of its own."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        await wait_all_ready(channel, name, expected)
        return [str(message.message_id) for message in await drain_queue(queue)]
    finally:
        await connection.close()


async def listed_ids(page: Any) -> list[str]:
    return await page.locator("#messages tbody tr td:nth-child(6)").all_inner_texts()


async def test_a_page_view_hides_the_dead_letters_only_while_it_reads(
    prefix: str, broker_url: str, browser: Any
) -> None:
    """Another reader watching ``Q.dead`` through 25 page views never misses a message for long
    (the read of 30 takes well under a second), and finds all 30 back after each view."""
    broker = await quorum_dead_queue(prefix, broker_url)
    connection = await aio_pika.connect(AMQP_URL)
    page = await (await browser.new_context()).new_page()
    try:
        channel = await connection.channel()
        await wait_all_ready(channel, f"{prefix}.dead")
        with serve(create_app(broker, token="s3cr3t", mgmt_url=MGMT_URL)) as base:
            await page.goto(f"{base}/?token=s3cr3t")
            stop = asyncio.Event()
            watcher = asyncio.create_task(longest_hidden(f"{prefix}.dead", stop))
            try:
                for _ in range(VIEWS):
                    response = await page.goto(f"{base}/queues/{prefix}")
                    assert response.status == 200
                    assert await listed_ids(page) == IDS
                    await wait_all_ready(channel, f"{prefix}.dead")
            finally:
                stop.set()
            hidden = await watcher
    finally:
        await connection.close()
    assert hidden < HIDDEN_AT_MOST_S, f"a page view kept messages from others for {hidden:.1f} s"
    assert await drain(f"{prefix}.dead") == IDS


async def test_more_views_than_the_delivery_limit_drop_or_reorder_no_dead_letter(
    prefix: str, broker_url: str, browser: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """25 views of the queue page and of a message each, then of a group: 51 reads of every
    message, all 30 still there at the end in their order, none moved to the tail."""
    broker = await quorum_dead_queue(prefix, broker_url)
    page = await (await browser.new_context()).new_page()
    with serve(create_app(broker, token="s3cr3t", mgmt_url=MGMT_URL)) as base:
        await page.goto(f"{base}/?token=s3cr3t")
        for view in range(VIEWS):
            await page.goto(f"{base}/queues/{prefix}")
            assert await listed_ids(page) == IDS
            assert await page.locator("#delivery-limit").count() == 0  # hare's Q.dead has none
            await page.locator("#messages tbody tr td.num a").nth(view).click()
            assert await page.locator("#body").inner_text() == IDS[view]
        await page.goto(f"{base}/queues/{prefix}")
        await page.locator('tr[data-group="TimeoutError"] td a').first.click()
        assert await listed_ids(page) == IDS[::3]
    assert "to its tail" not in caplog.text
    assert await drain(f"{prefix}.dead") == IDS


async def test_a_message_looked_at_25_times_is_still_the_one_its_links_name(
    prefix: str, broker_url: str, browser: Any
) -> None:
    """Each read raises a quorum queue's ``x-delivery-count`` header; the id that message pages
    and confirmations use ignores it, so "Replay this message" moves that message, only it."""
    broker = await quorum_dead_queue(prefix, broker_url)
    chosen = IDS[4]
    page = await (await browser.new_context()).new_page()
    with serve(create_app(broker, token="s3cr3t", mgmt_url=MGMT_URL)) as base:
        await page.goto(f"{base}/queues/{prefix}?token=s3cr3t")
        for _ in range(VIEWS):
            await page.reload()
        await page.locator("#messages tbody tr td.num a").nth(4).click()
        assert await page.locator("#body").inner_text() == chosen
        await page.locator("a", has_text="Replay this message").click()
        assert await page.locator("#selected tbody tr td code").all_inner_texts() == [chosen]
        await page.locator("#confirm").click()
        assert await page.locator("#moved li").all_inner_texts() == [chosen]
    assert await drain(prefix, 1) == [chosen]
    # Which of the others lead is not this test's subject: a quorum queue puts what the replay
    # read before its one message behind what it had not read.
    assert sorted(await drain(f"{prefix}.dead", len(IDS) - 1)) == [i for i in IDS if i != chosen]
