"""The console's HTTP contract on the real broker: pages, token, CSRF, actions, sampling."""

from __future__ import annotations

import re

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.routing import Mount

from faststream_hare import HareBroker
from faststream_hare.ops.cli import build_parser
from faststream_hare.ops.console import create_app, create_console
from faststream_hare.ops.target import Target
from faststream_hare.telemetry.prometheus import HareMetrics
from tests.features.ops.test_ops_seed import MIXED, message_ids, seed_dead
from tests.support.broker import MGMT_URL

pytestmark = pytest.mark.rabbit


def console_for(prefix: str, url: str, **options: object) -> HareBroker:
    broker = HareBroker(url)

    @broker.subscriber(prefix, retry_limit=0)
    async def handle(body: str) -> None: ...

    return broker


def client_for(app: Starlette) -> httpx.AsyncClient:
    """A client that behaves as the console's own pages do: its POSTs carry their Origin."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://127.0.0.1",
        headers={"Origin": "http://127.0.0.1"},
        follow_redirects=True,
    )


def form_of(html: str) -> dict[str, list[str]]:
    """The hidden fields of a confirmation page's form, as the browser would post them."""
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html):
        fields.setdefault(name, []).append(value)
    return fields


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


async def test_pages_and_a_confirmed_group_replay(prefix: str, broker_url: str) -> None:
    await seed_dead(prefix)
    broker = console_for(prefix, broker_url)
    async with client_for(create_app(broker, auth="app")) as client:
        page = await client.get("/")
        assert page.status_code == 200
        assert f'data-queue="{prefix}"' in page.text
        assert 'data-dead="6"' in page.text
        assert "guest:***@" in page.text
        assert "guest:guest" not in page.text
        page = await client.get(f"/queues/{prefix}")
        assert 'data-group="ValueError"' in page.text
        assert "bad order 0" in page.text
        page = await client.get(f"/queues/{prefix}", params={"group": "TimeoutError"})
        assert page.text.count("payment gateway timed out") == 3  # group row + its 2 messages
        confirm = await client.get(
            f"/queues/{prefix}/confirm", params={"action": "replay", "group": "ValueError"}
        )
        assert "3 message(s) match now" in confirm.text
        assert await message_ids(f"{prefix}.dead") == [m[0] for m in MIXED]  # nothing moved yet
        # A ValueError dead-lettered after the page was shown is not part of what was confirmed.
        await seed_dead(prefix, [("late", "ValueError", "bad order late")])
        done = await client.post(f"/queues/{prefix}/action", data=form_of(confirm.text))
        assert [r.status_code for r in done.history] == [303]  # POST, redirect, GET
        assert done.status_code == 200
        assert f"Moved 3 message(s) from {prefix}.dead to {prefix}." in done.text
        assert f"<h1>Group ValueError of <code>{prefix}.dead</code></h1>" in done.text
        again = await client.get(done.url)  # a refresh shows the result, and moves nothing
        assert f"Moved 3 message(s) from {prefix}.dead to {prefix}." in again.text
        assert re.findall(r"<li><code>([^<]+)</code></li>", done.text) == ["m0", "m2", "m5"]
        refused = await client.post(
            f"/queues/{prefix}/action",
            data={"csrf": csrf_of(confirm.text), "action": "replay", "group": "ValueError"},
        )
        assert refused.status_code == 400  # a form that names no messages moves none
    assert await message_ids(prefix) == ["m0", "m2", "m5"]
    assert await message_ids(f"{prefix}.dead") == ["m1", "m3", "m4", "late"]


async def test_message_page_and_single_purge(prefix: str, broker_url: str) -> None:
    await seed_dead(prefix)
    async with client_for(create_app(console_for(prefix, broker_url), auth="app")) as client:
        queue_page = await client.get(f"/queues/{prefix}")
        links = re.findall(rf'href="[^"]*/queues/{prefix}/messages/([0-9a-f]+)"', queue_page.text)
        fingerprint = links[2]  # message #1 (two links per row)
        page = await client.get(f"/queues/{prefix}/messages/{fingerprint}")
        assert "payment gateway timed out" in page.text
        assert "&#34;id&#34;: &#34;m1&#34;" in page.text  # the body, pretty-printed and escaped
        assert "x-tenant" in page.text
        confirm = await client.get(
            f"/queues/{prefix}/confirm", params={"action": "purge", "fingerprint": fingerprint}
        )
        assert "1 message(s) match now" in confirm.text
        done = await client.post(f"/queues/{prefix}/action", data=form_of(confirm.text))
        assert f"Purged 1 message(s) from {prefix}.dead." in done.text
        assert (await client.get(f"/queues/{prefix}/messages/{fingerprint}")).status_code == 404
    assert await message_ids(f"{prefix}.dead") == ["m0", "m2", "m3", "m4", "m5"]


async def test_post_without_csrf_is_refused(prefix: str, broker_url: str) -> None:
    await seed_dead(prefix)
    async with client_for(create_app(console_for(prefix, broker_url), auth="app")) as client:
        await client.get(f"/queues/{prefix}")
        form = {"action": "purge", "group": "ValueError"}
        assert (await client.post(f"/queues/{prefix}/action", data=form)).status_code == 403
        form["csrf"] = "forged"
        assert (await client.post(f"/queues/{prefix}/action", data=form)).status_code == 403
        assert (await client.get("/queues/not-a-hare-queue")).status_code == 404
    assert await message_ids(f"{prefix}.dead") == [m[0] for m in MIXED]


async def test_token_header_query_and_cookie(prefix: str, broker_url: str) -> None:
    await seed_dead(prefix)
    app = create_app(console_for(prefix, broker_url), token="t0ken")
    async with client_for(app) as client:
        assert (await client.get("/")).status_code == 401
        assert (await client.get("/", params={"token": "wrong"})).status_code == 401
        assert (await client.get("/", headers={"Authorization": "Bearer t0ken"})).status_code == 200
        first = await client.get("/", params={"token": "t0ken"}, follow_redirects=False)
        assert first.status_code == 303
        assert "token" not in first.headers["location"]
        assert "t0ken" not in first.headers["set-cookie"]
        assert (await client.get("/")).status_code == 200  # the session cookie does it now
        assert (await client.get("/", params={"token": "wrong"})).status_code == 401
        assert (await client.get("/", headers={"Authorization": "bearer t0ken"})).status_code == 200
    async with client_for(app) as stranger:
        assert (await stranger.post(f"/queues/{prefix}/action", data={})).status_code == 401


async def test_mounted_and_sampled(prefix: str, broker_url: str) -> None:
    await seed_dead(prefix)
    outer = Starlette(
        routes=[
            Mount("/hare", app=create_app(console_for(prefix, broker_url), auth="app", sample=4))
        ]
    )
    async with client_for(outer) as client:
        page = await client.get(f"/hare/queues/{prefix}")
        assert page.status_code == 200
        assert "Groups and pages cover the first 4 of 6 messages" in page.text
        # ... and says how to reach the rest: the command's options, as the parser spells them
        hint = re.sub(r"<[^>]+>", "", page.text)
        assert f"hare dead list [APP] {prefix} --limit 6 --group-by exception" in hint
        assert f"hare dead replay [APP] {prefix} --where exception=TYPE [--sample N] --yes" in hint
        replay = build_parser().parse_args(
            ["dead", "replay", prefix, "--where", "exception=TYPE", "--sample", "9", "--yes"]
        )
        assert (replay.sample, replay.yes) == (9, True)
        assert f'href="http://127.0.0.1/hare/queues/{prefix}?group=' in page.text


async def test_pages_of_fifty_head_first(prefix: str, broker_url: str) -> None:
    """120 dead letters: three pages of 50, 50 and 20, in queue order; nothing removed."""
    letters = [(f"p{i:03}", "ValueError", f"bad {i}") for i in range(120)]
    await seed_dead(prefix, letters)
    async with client_for(create_app(console_for(prefix, broker_url), auth="app")) as client:
        shown: list[str] = []
        for number, size in ((0, 50), (1, 50), (2, 20)):
            page = await client.get(f"/queues/{prefix}", params={"page": number})
            ids = re.findall(r"<td>(p\d{3})</td>", page.text)
            assert len(ids) == size
            assert ('id="next"' in page.text) == (number < 2)
            shown += ids
        assert shown == [m[0] for m in letters]
        assert (await client.get(f"/queues/{prefix}", params={"page": "x"})).status_code == 400
    assert await message_ids(f"{prefix}.dead") == [m[0] for m in letters]


async def test_a_replay_from_the_mounted_console_is_counted(prefix: str, broker_url: str) -> None:
    """``hare_dead_letters_replayed_total`` counts the app's console as it counts
    ``republish_dead_messages``: by the messages moved; a purge moves none back."""
    await seed_dead(prefix)
    broker = console_for(prefix, broker_url)
    registry = CollectorRegistry()
    metrics = HareMetrics(registry=registry, broker=broker)
    app = Starlette(routes=[Mount("/hare", app=create_app(broker, auth="app"))])

    def replayed() -> float:
        return registry.get_sample_value("hare_dead_letters_replayed_total", {"queue": prefix}) or 0

    try:
        async with client_for(app) as client:
            for action, group in (("replay", "ValueError"), ("purge", "TimeoutError")):
                confirm = await client.get(
                    f"/hare/queues/{prefix}/confirm", params={"action": action, "group": group}
                )
                done = await client.post(
                    f"/hare/queues/{prefix}/action", data=form_of(confirm.text)
                )
                assert done.status_code == 200
                assert ("Moved 3" if action == "replay" else "Purged 2") in done.text
                assert replayed() == 3  # the replay's three, and nothing for the purge
    finally:
        metrics.close()
    assert await message_ids(prefix) == ["m0", "m2", "m5"]


async def test_a_stream_named_with_url_shows_as_a_stream(prefix: str, broker_url: str) -> None:
    """``hare console --url … --queue STREAM``: the overview says stream, shows no ready
    count, no pool and no dead-letter page (the stream has no ``Q.dead``)."""
    broker = HareBroker(broker_url)
    stream = f"{prefix}.events"

    @broker.subscriber(stream, stream=True)
    async def events(body: str) -> None: ...

    async with broker:
        await broker.start()
    app = create_console(Target(broker_url), queues=(stream,), auth="app", mgmt_url=MGMT_URL)
    async with client_for(app) as client:
        page = await client.get("/")
    assert page.status_code == 200
    row = re.search(rf'<tr data-queue="{re.escape(stream)}">(.*?)</tr>', page.text, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    assert [c.strip() for c in cells[1:4]] == ["stream", "–", "–"]
    assert cells[6].strip() == ""  # no pool
    assert f"/queues/{stream}" not in row.group(1)  # no dead letters to page through
