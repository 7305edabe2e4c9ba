"""The ops examples run against the real broker."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

import httpx
import pytest

from faststream_hare.errors import HareConfigError
from tests.support.amqp import depth, wait_depth
from tests.support.rabbit_admin import AMQP_URL

pytestmark = [pytest.mark.rabbit, pytest.mark.usefixtures("demo_entities")]


def fresh(name: str) -> ModuleType:
    sys.modules.pop(name, None)
    return importlib.import_module(name)


async def test_scripting_replays_only_the_timeouts(capsys: pytest.CaptureFixture[str]) -> None:
    example = fresh("examples.ops_scripting")
    async with example.broker:
        await example.broker.start()
        for invoice in ({"id": 1, "vat": "DE1"}, {"id": 2}, {"id": 3, "vat": "FR3"}):
            await example.broker.publish(invoice, queue="hare_demo.invoices")
        await wait_depth("hare_demo.invoices.dead", 3)
    example.gateway_up = True
    assert await example.replay_timeouts(AMQP_URL) == 2
    out = capsys.readouterr().out
    assert "TimeoutError: 2 message(s), e.g. mail gateway timed out" in out
    assert "ValueError: 1 message(s), e.g. invoice 2 has no VAT number" in out
    assert "would move 2, leave 1" in out
    assert await depth("hare_demo.invoices") == 2
    assert await depth("hare_demo.invoices.dead") == 1


def test_console_is_not_built_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARE_CONSOLE_TOKEN", raising=False)
    with pytest.raises(HareConfigError, match="needs token="):
        fresh("examples.ops_console")


async def test_console_is_mounted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARE_CONSOLE_TOKEN", "demo-token")
    example = fresh("examples.ops_console")
    async with example.broker:
        await example.broker.start()
        await example.broker.publish({"id": 7}, queue="hare_demo.shipments")
        await wait_depth("hare_demo.shipments.dead", 1)
    transport = httpx.ASGITransport(app=example.web)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        assert (await client.get("/health")).text == "ok"
        assert (await client.get("/hare/")).status_code == 401
        auth = {"Authorization": "Bearer demo-token"}
        page = await client.get("/hare/queues/hare_demo.shipments", headers=auth)
        assert page.status_code == 200
        assert 'data-group="KeyError"' in page.text
        assert "order 7 has no address" in page.text
        named = {"Host": "ops.shop.example"} | auth
        assert (await client.get("/hare/", headers=named)).status_code == 200
        foreign = {"Host": "rebound.example"} | auth
        assert (await client.get("/hare/", headers=foreign)).status_code == 400
