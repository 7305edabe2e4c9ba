"""The console's defences in Chromium: token, Host, CSRF, cookies, HTTPS, no leaked secrets.

Every test that tries to move messages counts ``Q`` and ``Q.dead`` by message id afterwards.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import trustme
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route
from yarl import URL

from faststream_hare import HareBroker
from faststream_hare.ops.console import create_app
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.server import hare_console, https_proxy, serve
from tests.features.ops.test_ops_seed import MIXED, message_ids, seed_dead
from tests.support.rabbit_admin import AMQP_URL

pytestmark = [pytest.mark.rabbit, pytest.mark.browser]
TOKEN = "tok-" + "7" * 28
ALL_DEAD = [m[0] for m in MIXED]


def console_broker(prefix: str, url: str) -> HareBroker:
    broker = HareBroker(url)

    @broker.subscriber(prefix, retry_limit=0)
    async def handle(body: dict[str, Any]) -> None: ...

    return broker


async def nothing_moved(prefix: str) -> None:
    assert await message_ids(prefix) == []
    assert await message_ids(f"{prefix}.dead") == ALL_DEAD


async def crawl(page: Any) -> list[str]:
    """Follow every console link from the page shown, breadth first; returns the URLs visited."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(page.url))
    seen = [page.url]
    queue = await links(page, origin)
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.append(url)
        response = await page.goto(url)
        assert response.status == 200, url
        queue += await links(page, origin)
    return seen


async def links(page: Any, origin: str) -> list[str]:
    hrefs = await page.locator("a[href]").evaluate_all("els => els.map(e => e.href)")
    return [h for h in hrefs if h.startswith(origin)]


async def post_from(page: Any, action: Any) -> Any:
    """Run ``action`` (a click or a navigation) and return the response to the POST it causes."""
    async with page.expect_response(lambda r: r.request.method == "POST") as info:
        await action
    return await info.value


def attacker(forms: dict[str, tuple[str, dict[str, str], list[str]]]) -> Starlette:
    """A site on another port of 127.0.0.1: each path plants cookies and auto-submits a form."""

    def page_for(target: str, fields: dict[str, str], cookies: list[str]) -> Any:
        inputs = "".join(f'<input name="{k}" value="{v}">' for k, v in fields.items())
        html = (
            f'<form method="post" action="{target}">{inputs}</form>'
            "<script>document.forms[0].submit()</script>"
        )

        async def endpoint(request: object) -> HTMLResponse:
            response = HTMLResponse(html)
            for cookie in cookies:
                response.headers.append("set-cookie", cookie)
            return response

        return endpoint

    return Starlette(routes=[Route(p, page_for(*spec)) for p, spec in forms.items()])


async def test_generated_token_is_printed_once_and_required(prefix: str, browser: Any) -> None:
    await seed_dead(prefix)
    with hare_console("--url", AMQP_URL, "--queue", prefix) as run:
        match = re.search(r"(http://127\.0\.0\.1:\d+/)\?token=([\w-]+) ", run.line)
        assert match is not None, run.line
        base, token = match.groups()
        context = await browser.new_context()
        page = await context.new_page()
        response = await page.goto(f"{base}?token={token}")
        assert response.status == 200
        assert page.url == base
        assert await page.locator(f'tr[data-queue="{prefix}"]').count() == 1
        (cookie,) = await context.cookies()
        assert (cookie["httpOnly"], cookie["sameSite"], cookie["secure"]) == (True, "Strict", False)
        assert token not in cookie["value"]

        stranger = await (await browser.new_context()).new_page()
        assert (await stranger.goto(base)).status == 401
        assert (await stranger.goto(f"{base}?token=wrong-{token}")).status == 401
        assert token not in await stranger.content()
    assert run.output.count(token) == 1  # the start-up line, nowhere else
    assert f":{URL(AMQP_URL).password}@" not in run.output
    await nothing_moved(prefix)


async def test_no_auth_is_loopback_only_and_says_so_on_every_page(
    prefix: str, browser: Any
) -> None:
    await seed_dead(prefix)
    with hare_console("--url", AMQP_URL, "--queue", prefix, "--no-auth") as run:
        base = run.base
        assert "no authentication" in run.line
        page = await browser.new_page()
        await page.goto(base)
        pages = await crawl(page)
        assert len(pages) >= 10  # overview, queue, groups, messages, confirmations
        for url in pages:
            await page.goto(url)
            banner = await page.locator("#no-auth").inner_text()
            assert "No authentication (--no-auth)" in banner, url
    await nothing_moved(prefix)


async def test_sign_in_form_keeps_the_token_out_of_addresses(prefix: str, browser: Any) -> None:
    await seed_dead(prefix)
    app = create_app(console_broker(prefix, AMQP_URL), token=TOKEN)
    with serve(app) as base:
        page = await browser.new_page()
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        response = await page.goto(f"{base}/queues/{prefix}?group=ValueError")
        assert response.status == 401
        await page.locator("#token").fill("not-it")
        await page.locator("#sign-in").click()
        assert await page.locator("#wrong").count() == 1
        await page.locator("#token").fill(TOKEN)
        await page.locator("#sign-in").click()
        assert page.url == f"{base}/queues/{prefix}?group=ValueError"  # back where it started
        assert await page.locator("#messages tbody tr").count() == 3
        assert not [u for u in requested if TOKEN in u]

        async with httpx.AsyncClient() as client:
            own = {"Origin": base, "Accept": "text/html"}
            away = await client.post(
                f"{base}/sign-in", data={"token": TOKEN, "next": "//evil.example/"}, headers=own
            )
            assert (away.status_code, away.headers["location"]) == (303, "/")
            foreign = {"Origin": "http://127.0.0.1:9", "Accept": "text/html"}
            cross = await client.post(f"{base}/sign-in", data={"token": TOKEN}, headers=foreign)
            assert cross.status_code == 403
            assert "set-cookie" not in cross.headers
            assert (await client.get(f"{base}/sign-in")).status_code == 404  # POST only
        async with httpx.AsyncClient() as stranger:
            assert (await stranger.get(f"{base}/sign-in")).status_code == 401
    await nothing_moved(prefix)


async def test_a_foreign_host_name_gets_400(prefix: str) -> None:
    """DNS rebinding: Chromium resolves attacker names to the console's address."""
    from playwright.async_api import async_playwright

    await seed_dead(prefix)
    app = create_app(console_broker(prefix, AMQP_URL), token=TOKEN, allowed_hosts=["ops.test"])
    rules = "MAP rebind.test 127.0.0.1, MAP ops.test 127.0.0.1"
    with serve(app) as base:
        port = urlsplit(base).port
        async with async_playwright() as playwright:
            args = [*CHROMIUM_ARGS, f"--host-resolver-rules={rules}"]
            chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
            try:
                page = await chromium.new_page()
                response = await page.goto(f"http://rebind.test:{port}/?token={TOKEN}")
                assert response.status == 400
                assert "not an address the console answers" in await page.inner_text("body")
                response = await page.goto(f"http://ops.test:{port}/?token={TOKEN}")
                assert response.status == 200
                assert page.url == f"http://ops.test:{port}/"
            finally:
                await chromium.close()
        async with httpx.AsyncClient() as client:
            foreign = await client.get(f"{base}/", headers={"Host": "evil.example"})
            assert foreign.status_code == 400
            bearer = {"Authorization": f"Bearer {TOKEN}"}
            assert (await client.get(f"{base}/", headers=bearer)).status_code == 200


async def test_cross_origin_posts_and_planted_cookies_are_refused(
    prefix: str, browser: Any
) -> None:
    await seed_dead(prefix)
    app = create_app(console_broker(prefix, AMQP_URL), token=TOKEN)
    with serve(app) as base:
        port = urlsplit(base).port
        action = f"{base}/queues/{prefix}/action"
        purge = {"action": "purge", "group": "ValueError"}
        evil = attacker(
            {
                "/guess": (action, purge | {"csrf": "guessed"}, []),
                "/plant": (
                    action,
                    purge | {"csrf": "x"},
                    [  # a forged session, and a double-submit pair as the old console used
                        f"hare_console_{port}=forged.1.00; Path=/",
                        "hare_console_csrf=x; Path=/",
                    ],
                ),
            }
        )
        with serve(evil) as other:
            context = await browser.new_context()
            page = await context.new_page()
            await page.goto(f"{base}/?token={TOKEN}")  # the operator is signed in

            refused = await post_from(page, page.goto(f"{other}/guess"))
            assert refused.status == 403  # another origin, though the session cookie went along
            assert "must come from the console's own pages" in await page.inner_text("body")
            await nothing_moved(prefix)

            refused = await post_from(page, page.goto(f"{other}/plant"))
            assert refused.status == 401  # the planted cookie replaced the session: not one
            await nothing_moved(prefix)
            assert (await page.goto(f"{base}/")).status == 401
            await nothing_moved(prefix)


async def test_a_stolen_session_still_needs_the_console_origin(prefix: str, browser: Any) -> None:
    """Without auth anyone local can get a real session and its CSRF value: Origin stops them."""
    await seed_dead(prefix)
    app = create_app(console_broker(prefix, AMQP_URL), auth="none")
    with serve(app) as base:
        port = urlsplit(base).port
        async with httpx.AsyncClient() as thief:
            confirm = await thief.get(
                f"{base}/queues/{prefix}/confirm", params={"action": "purge", "group": "ValueError"}
            )
            csrf = re.search(r'name="csrf" value="([^"]+)"', confirm.text)
            assert csrf is not None
            session = thief.cookies[f"hare_console_{port}"]
        fields = {"action": "purge", "group": "ValueError", "csrf": csrf.group(1)}
        cookie = f"hare_console_{port}={session}; Path=/"
        evil = attacker({"/": (f"{base}/queues/{prefix}/action", fields, [cookie])})
        with serve(evil) as other:
            page = await browser.new_page()
            refused = await post_from(page, page.goto(f"{other}/"))
            assert refused.status == 403
    await nothing_moved(prefix)


async def test_stale_and_foreign_csrf_values_are_refused(prefix: str, browser: Any) -> None:
    await seed_dead(prefix)
    app = create_app(console_broker(prefix, AMQP_URL), token=TOKEN)
    confirm = f"/queues/{prefix}/confirm?action=purge&group=ValueError"
    with serve(app) as base:
        context = await browser.new_context()
        tab = await context.new_page()
        await tab.goto(f"{base}/?token={TOKEN}")
        await tab.goto(f"{base}{confirm}")
        # A second tab signs in again: a new session; the first tab's form is now stale.
        await (await context.new_page()).goto(f"{base}/?token={TOKEN}")
        stale = await post_from(tab, tab.locator("#confirm").click())
        assert stale.status == 403
        assert "CSRF field is missing or wrong" in await tab.inner_text("body")
        await nothing_moved(prefix)

        other = await (await browser.new_context()).new_page()
        await other.goto(f"{base}/?token={TOKEN}")
        await other.goto(f"{base}{confirm}")
        foreign = await other.locator('input[name="csrf"]').get_attribute("value")
        await tab.goto(f"{base}{confirm}")
        await tab.locator('input[name="csrf"]').evaluate("(e, v) => { e.value = v }", foreign)
        refused = await post_from(tab, tab.locator("#confirm").click())
        assert refused.status == 403
        await nothing_moved(prefix)

        await tab.goto(f"{base}{confirm}")  # the tab's own, fresh form does it
        done = await post_from(tab, tab.locator("#confirm").click())
        assert done.status == 303  # then the result page, by GET
    assert await message_ids(prefix) == []  # purged, not moved
    assert await message_ids(f"{prefix}.dead") == ["m1", "m3", "m4"]


async def test_the_token_never_appears_in_the_consoles_own_urls(prefix: str, browser: Any) -> None:
    await seed_dead(prefix)
    outer = Starlette(
        routes=[Mount("/hare", app=create_app(console_broker(prefix, AMQP_URL), token=TOKEN))]
    )
    with serve(outer) as base:
        context = await browser.new_context()
        page = await context.new_page()
        requested: list[str] = []
        locations: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.on("response", lambda r: locations.append(r.headers.get("location") or ""))
        first = await page.goto(f"{base}/hare/?token={TOKEN}")
        assert first.status == 200
        assert page.url == f"{base}/hare/"
        contents = []
        for url in await crawl(page):
            await page.goto(url)
            contents.append(await page.content())
        await page.goto(f"{base}/hare/queues/{prefix}/confirm?action=replay&group=ValueError")
        done = await post_from(page, page.locator("#confirm").click())
        assert done.status == 303  # then the result page, by GET
        contents.append(await page.content())
        await crawl(page)

        assert len(requested) > 20
        assert [u for u in requested if TOKEN in u] == [f"{base}/hare/?token={TOKEN}"]
        assert "/hare/" in locations  # the one redirect, to the page without the token
        assert not [x for x in locations if TOKEN in x]
        assert not [c for c in contents if TOKEN in c]
        (cookie,) = await context.cookies()
        assert (cookie["path"], cookie["httpOnly"], cookie["sameSite"]) == ("/hare", True, "Strict")
    assert await message_ids(prefix) == ["m0", "m2", "m5"]
    assert await message_ids(f"{prefix}.dead") == ["m1", "m3", "m4"]


@pytest.fixture(scope="module")
def tls() -> Iterator[tuple[trustme.CA, str]]:
    """A throwaway CA and a certificate for 127.0.0.1 (key and chain in one PEM file)."""
    ca = trustme.CA()
    with ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.tempfile() as pem:
        yield ca, pem


async def test_over_https_the_session_cookie_is_secure(
    prefix: str, browser: Any, tls: tuple[trustme.CA, str]
) -> None:
    ca, pem = tls
    await seed_dead(prefix)
    app = create_app(console_broker(prefix, AMQP_URL), token=TOKEN)
    with serve(app, certfile=pem, keyfile=pem) as base:
        context = await browser.new_context(ignore_https_errors=True)
        page = await context.new_page()
        assert (await page.goto(f"{base}/?token={TOKEN}")).status == 200
        assert page.url == f"{base}/"
        (cookie,) = await context.cookies()
        assert (cookie["secure"], cookie["httpOnly"], cookie["sameSite"]) == (True, True, "Strict")
        await page.goto(f"{base}/queues/{prefix}/confirm?action=replay&group=TimeoutError")
        assert (await post_from(page, page.locator("#confirm").click())).status == 303

        verified = ssl.create_default_context()
        ca.configure_trust(verified)
        async with httpx.AsyncClient(verify=verified) as client:
            first = await client.get(f"{base}/", params={"token": TOKEN})
            flags = first.headers["set-cookie"].lower().split("; ")
            assert {"secure", "httponly", "samesite=strict"} <= set(flags)
    assert await message_ids(prefix) == ["m1", "m4"]
    assert await message_ids(f"{prefix}.dead") == ["m0", "m2", "m3", "m5"]


async def test_hare_console_serves_https_with_certfile_and_keyfile(
    prefix: str, browser: Any, tls: tuple[trustme.CA, str]
) -> None:
    ca, pem = tls
    await seed_dead(prefix)
    args = ["--url", AMQP_URL, "--queue", prefix, "--certfile", pem, "--keyfile", pem]
    with hare_console(*args) as run:
        assert run.base.startswith("https://127.0.0.1:")
        token = run.line.split("?token=")[1].split()[0]
        verified = ssl.create_default_context()
        ca.configure_trust(verified)
        async with httpx.AsyncClient(verify=verified) as client:
            first = await client.get(run.base, params={"token": token})
            assert "; Secure" in first.headers["set-cookie"]
        context = await browser.new_context(ignore_https_errors=True)
        page = await context.new_page()
        assert (await page.goto(f"{run.base}?token={token}")).status == 200
        (cookie,) = await context.cookies()
        assert (cookie["secure"], cookie["httpOnly"], cookie["sameSite"]) == (True, True, "Strict")
    await nothing_moved(prefix)


async def test_behind_an_https_proxy_with_trust_forwarded_proto(
    prefix: str, browser: Any, tls: tuple[trustme.CA, str]
) -> None:
    """Chromium -> HTTPS proxy -> console over HTTP, as with nginx in front of it."""
    _, pem = tls
    await seed_dead(prefix)
    for trusted in (False, True):
        app = create_app(
            console_broker(prefix, AMQP_URL), token=TOKEN, trust_forwarded_proto=trusted
        )
        proxied = serve(app)
        with proxied as upstream, serve(https_proxy(upstream), certfile=pem, keyfile=pem) as front:
            context = await browser.new_context(ignore_https_errors=True)
            page = await context.new_page()
            assert (await page.goto(f"{front}/?token={TOKEN}")).status == 200
            assert page.url == f"{front}/"
            (cookie,) = await context.cookies()
            assert cookie["secure"] is trusted
            await page.goto(f"{front}/queues/{prefix}/confirm?action=replay&group=TimeoutError")
            action = await page.locator("form").get_attribute("action")
            if trusted:  # its links and forms are https:// too, and a replay goes through
                assert action == f"{front}/queues/{prefix}/action"
                posted = await post_from(page, page.locator("#confirm").click())
                assert posted.status == 303  # to the result page, by GET
            else:  # it does not believe the header: http:// links, a cookie without Secure
                assert action == f"{front.replace('https', 'http')}/queues/{prefix}/action"
                await nothing_moved(prefix)
            await context.close()
    assert await message_ids(prefix) == ["m1", "m4"]
    assert await message_ids(f"{prefix}.dead") == ["m0", "m2", "m3", "m5"]


async def test_x_forwarded_proto_counts_only_when_trusted(prefix: str) -> None:
    """Behind an HTTPS proxy: Secure cookies and the https:// origin, only when opted in."""
    await seed_dead(prefix)
    form = {"action": "purge", "group": "ValueError", "csrf": "not-this-sessions"}
    for trusted in (False, True):
        app = create_app(
            console_broker(prefix, AMQP_URL), token=TOKEN, trust_forwarded_proto=trusted
        )
        with serve(app) as base:
            async with httpx.AsyncClient(headers={"X-Forwarded-Proto": "https"}) as client:
                first = await client.get(f"{base}/", params={"token": TOKEN})
                cookie = first.headers["set-cookie"]
                assert ("; Secure" in cookie) is trusted
                post = await client.post(
                    f"{base}/queues/{prefix}/action",
                    data=form,
                    headers={
                        "Origin": base.replace("http://", "https://"),
                        "Cookie": cookie.partition(";")[0],
                    },
                )
            assert post.status_code == 403
            # Trusted, the https:// origin is the console's own and the CSRF check decides.
            assert ("CSRF" in post.text) is trusted
            assert ("Origin" in post.text) is not trusted
    await nothing_moved(prefix)


async def test_credentials_never_reach_pages_or_output(prefix: str, browser: Any) -> None:
    """A wrong AMQP password: the error page and the process output mask it."""
    password = "not-the-password-42"
    url = str(URL(AMQP_URL).with_password(password))
    with hare_console("--url", url, "--queue", prefix, "--token", TOKEN) as run:
        assert TOKEN not in run.line
        base = run.base
        page = await browser.new_page()
        response = await page.goto(f"{base}?token={TOKEN}")
        for path in ("", f"queues/{prefix}", f"queues/{prefix}/confirm?action=purge&group=X"):
            response = await page.goto(f"{base}{path}")
            assert response.status == 503
            text = await page.content()
            assert ":***@" in text
            assert password not in text
            assert TOKEN not in text
    assert password not in run.output
    assert TOKEN not in run.output
