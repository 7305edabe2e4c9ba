"""The dead-letter console in a real browser, against the real broker.

Set ``HARE_SCREENSHOTS=docs/img`` to (re)take the documentation's screenshots.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from faststream_hare import HareBroker
from faststream_hare.ops.console import create_app
from faststream_hare.ops.doctor import delivery_limit_fix
from tests.browser.server import serve
from tests.features.ops.test_dead_reads import IDS, seed_quorum_dead
from tests.features.ops.test_ops_seed import MIXED, message_ids, seed_dead
from tests.support.amqp import wait_depth
from tests.support.broker import MGMT_URL

pytestmark = [pytest.mark.rabbit, pytest.mark.browser]
SHOTS = os.environ.get("HARE_SCREENSHOTS")


async def shot(page: Any, name: str, folder: Path | None = None) -> None:
    """Save ``console-NAME.png`` in ``folder`` (default: HARE_SCREENSHOTS when set)."""
    folder = folder or (Path(SHOTS) if SHOTS else None)
    if folder is not None:
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        await page.screenshot(path=str(folder / f"console-{name}.png"), full_page=True)


def app_broker(prefix: str, url: str) -> HareBroker:
    broker = HareBroker(url)

    @broker.subscriber(prefix, retry_limit=3, delay_cascade_in_ms=[1000, 5000])
    async def orders(body: dict[str, Any]) -> None: ...

    return broker


async def test_overview_group_replay(prefix: str, broker_url: str, browser: Any) -> None:
    await seed_dead(prefix)
    page = await (await browser.new_context(viewport={"width": 1200, "height": 800})).new_page()
    with serve(create_app(app_broker(prefix, broker_url), token="s3cr3t")) as base:
        await page.goto(f"{base}/?token=s3cr3t")
        row = page.locator(f'tr[data-queue="{prefix}"]')
        assert await row.locator("td.dead").get_attribute("data-dead") == "6"
        await shot(page, "overview")

        await row.locator("td a").first.click()
        groups = page.locator("#groups tbody tr")
        assert await groups.count() == 3
        assert await page.locator('tr[data-group="ValueError"] td').nth(1).inner_text() == "3"
        await shot(page, "queue")

        await page.locator('tr[data-group="TimeoutError"] td a').first.click()
        assert await page.locator("#messages tbody tr").count() == 2
        await page.locator("#messages tbody tr td a").first.click()
        assert "payment gateway timed out" in await page.locator("#summary").inner_text()
        assert '"id": "m1"' in await page.locator("#body").inner_text()
        await shot(page, "message")

        await page.go_back()
        await page.go_back()
        await page.locator('tr[data-group="ValueError"] a', has_text="Replay group").click()
        assert "3 message(s) match now" in await page.locator("#matching").inner_text()
        await shot(page, "confirm")
        assert await message_ids(f"{prefix}.dead") == [m[0] for m in MIXED]  # not yet

        await page.locator("#confirm").click()
        result = await page.locator("#result").inner_text()
        assert result == f"Moved 3 message(s) from {prefix}.dead to {prefix}."
        assert await page.locator("h1").inner_text() == f"Group ValueError of {prefix}.dead"
        assert f"/queues/{prefix}/done/" in page.url  # the result is a page of its own (GET)
        await shot(page, "done")
        assert await message_ids(prefix) == ["m0", "m2", "m5"]
        assert await message_ids(f"{prefix}.dead") == ["m1", "m3", "m4"]
        await page.reload()  # a refresh shows the result again and moves nothing
        assert await page.locator("#result").inner_text() == result
        assert await message_ids(prefix) == ["m0", "m2", "m5"]
        assert await message_ids(f"{prefix}.dead") == ["m1", "m3", "m4"]

        await page.goto(f"{base}/")
        assert await row.locator("td.dead").get_attribute("data-dead") == "3"


async def test_token_is_required(prefix: str, broker_url: str, browser: Any) -> None:
    await seed_dead(prefix)
    with serve(create_app(app_broker(prefix, broker_url), token="s3cr3t")) as base:
        context = await browser.new_context()
        page = await context.new_page()
        response = await page.goto(f"{base}/")
        assert response.status == 401
        assert await page.locator("form #token").count() == 1  # the sign-in form

        response = await page.goto(f"{base}/?token=s3cr3t")
        assert response.status == 200
        assert page.url == f"{base}/"  # the token left the address bar
        await page.locator(f'tr[data-queue="{prefix}"] td a').first.click()
        assert await page.locator("#groups tbody tr").count() == 3  # the cookie carries on

        stranger = await (await browser.new_context()).new_page()
        response = await stranger.goto(f"{base}/queues/{prefix}")
        assert response.status == 401


async def test_docs_screenshots(admin: Any, browser: Any, tmp_path: Path) -> None:
    """The screenshots of docs/operations.md, from a small running shop app.

    They go to a temporary folder; ``HARE_SCREENSHOTS=docs/img`` retakes the docs' images.
    Its queues are ``shop.*``: the examples' tests clear ``hare_demo.*`` when they start.
    """
    folder = Path(SHOTS) if SHOTS else tmp_path
    admin.delete_prefix("shop.")
    broker = HareBroker()
    state = {"gateway_up": False}

    @broker.subscriber("shop.orders", retry_limit=0, delay_cascade_in_ms=[1000, 5000])
    async def orders(order: dict[str, Any]) -> None:
        if "sku" not in order:
            msg = f"order {order['id']} has no sku"
            raise KeyError(msg)
        if not state["gateway_up"]:
            msg = "payment gateway timed out after 5.0 s"
            raise TimeoutError(msg)

    @broker.subscriber("shop.emails", consumer_count=2)
    async def emails(email: dict[str, Any]) -> None: ...

    try:
        async with broker:
            await broker.start()
            for i in range(1, 9):
                order = {"id": i, "sku": f"SKU-{i:03}", "qty": i % 3 + 1}
                if i in (3, 7):
                    del order["sku"]
                await broker.publish(order, queue="shop.orders", message_id=f"order-{i}")
            await wait_depth("shop.orders.dead", 8)
            page = await (
                await browser.new_context(viewport={"width": 1100, "height": 640})
            ).new_page()
            with serve(create_app(broker, token="docs-token")) as base:
                await page.goto(f"{base}/?token=docs-token")
                await shot(page, "overview", folder)
                await page.locator('tr[data-queue="shop.orders"] td a').first.click()
                await shot(page, "queue", folder)
                await page.locator("#messages tbody tr td a").nth(2).click()
                await shot(page, "message", folder)
                await page.go_back()
                state["gateway_up"] = True
                await page.locator(
                    'tr[data-group="TimeoutError"] a', has_text="Replay group"
                ).click()
                await shot(page, "confirm", folder)
                await page.locator("#confirm").click()
                await shot(page, "done", folder)
                assert (
                    await page.locator("h1").inner_text()
                    == "Group TimeoutError of shop.orders.dead"
                )
        for name in ("overview", "queue", "message", "confirm", "done"):
            assert (folder / f"console-{name}.png").stat().st_size > 10_000
    finally:
        admin.delete_prefix("shop.")


async def test_what_is_confirmed_is_what_moves(prefix: str, broker_url: str, browser: Any) -> None:
    """The confirmation page lists the messages; one dead-lettered after it was shown stays.

    Times are when a message was dead-lettered, in the operator's zone when one is given.
    """
    await seed_dead(prefix)
    await seed_dead(prefix, [("k1", "KeyError", "no sku")], dead_lettered_at="2026-12-07T01:02:03Z")
    page = await (await browser.new_context()).new_page()
    app = create_app(app_broker(prefix, broker_url), token="s3cr3t", timezone="Europe/Berlin")
    with serve(app) as base:
        await page.goto(f"{base}/queues/{prefix}?token=s3cr3t")
        seen = page.locator('tr[data-group="KeyError"] td.seen')
        assert await seen.first.inner_text() == "2026-12-07 02:02:03 CET"
        assert await page.locator('tr[data-group="ValueError"] td.seen').first.inner_text() == (
            "unknown"  # published straight into Q.dead: no time to tell
        )

        await page.locator('tr[data-group="ValueError"] a', has_text="Replay group").click()
        listed = await page.locator("#selected tbody tr td code").all_inner_texts()
        assert listed == ["m0", "m2", "m5"]
        await seed_dead(prefix, [("late", "ValueError", "bad order late")])
        await page.locator("#confirm").click()

        assert await page.locator("#moved li").all_inner_texts() == ["m0", "m2", "m5"]
    assert await message_ids(prefix) == ["m0", "m2", "m5"]
    assert await message_ids(f"{prefix}.dead") == ["m1", "m3", "m4", "k1", "late"]


async def test_overview_shows_a_stream_as_a_stream(
    prefix: str, broker_url: str, browser: Any
) -> None:
    broker = HareBroker(broker_url)

    @broker.subscriber(f"{prefix}.orders", retry_limit=1, consumer_count=2)
    async def orders(body: str) -> None: ...

    @broker.subscriber(f"{prefix}.audit", stream=True, stream_consumer_name=f"{prefix}-audit")
    async def audit(body: str) -> None: ...

    @broker.subscriber(f"{prefix}.mail", retry_limit=1)
    async def mail(body: str) -> None: ...

    page = await (await browser.new_context()).new_page()
    async with broker:
        await broker.start()
        with serve(create_app(broker, token="s3cr3t")) as base:
            await page.goto(f"{base}/?token=s3cr3t")
            stream = page.locator(f'tr[data-queue="{prefix}.audit"]')
            cells = [await c.inner_text() for c in await stream.locator("td").all()]
            assert cells[1:4] == ["stream", "–", "–"]  # nothing "ready" in a stream
            consumers = cells[4]
            assert consumers == "1" or (
                consumers == "?" and "rabbitmq_stream_management" in cells[0]
            )  # never the AMQP count's false 0
            assert f"offset stored for {prefix}-audit" in cells[5]
            assert await stream.locator("td a").count() == 0  # no dead queue, no queue page
            pool = page.locator(f'tr[data-queue="{prefix}.orders"] td').nth(6)
            assert (await pool.inner_text()).strip() == "2 / 2"
            plain = page.locator(f'tr[data-queue="{prefix}.mail"] td').nth(6)
            assert (await plain.inner_text()).strip() == ""  # not a pool


async def test_a_delivery_limit_on_the_dead_queue_is_named_with_its_fix(
    prefix: str, broker_url: str, browser: Any
) -> None:
    """Looking at a quorum ``Q.dead`` with a delivery limit counts towards it: the queue page
    says so, with the doctor's fix; a classic ``Q.dead`` (no limit applies) shows nothing."""
    limited, plain = f"{prefix}.limited", f"{prefix}.plain"
    await seed_quorum_dead(limited, {"x-delivery-limit": 50})
    await seed_dead(plain)
    broker = HareBroker(broker_url)

    @broker.subscriber(limited, queue_type="quorum")
    async def handle_limited(body: str) -> None: ...

    @broker.subscriber(plain, retry_limit=0)
    async def handle_plain(body: str) -> None: ...

    page = await (await browser.new_context()).new_page()
    with serve(create_app(broker, token="s3cr3t", mgmt_url=MGMT_URL)) as base:
        await page.goto(f"{base}/queues/{limited}?token=s3cr3t")
        warning = page.locator("#delivery-limit")
        text = " ".join((await warning.inner_text()).split())
        assert "drops a dead letter returned more than 50 times" in text
        assert "each view counts towards that limit" in text
        assert f"Fix (as hare doctor says): {delivery_limit_fix(limited)}." in text
        assert await page.locator("#messages tbody tr").count() == len(IDS)
        await page.goto(f"{base}/queues/{plain}")
        assert await page.locator("#messages tbody tr").count() == len(MIXED)
        assert await page.locator("#delivery-limit").count() == 0
    assert await message_ids(f"{limited}.dead") == IDS  # looking moved nothing
