"""One convention for the app argument: ``hare COMMAND [APP] ...``, with ``--url`` instead.

Run through the real ``hare`` entry point on the real broker: the dead-letter commands take
``[APP] QUEUE`` (``--app`` still works, with a note), ``replay`` too, and ``status`` accepts a
FastAPI app that includes a ``HareRouter`` (or says exactly what to point at).
"""

from __future__ import annotations

import asyncio
import json
import sys
import types

import pytest
from fastapi import FastAPI

from faststream_hare import HareBroker
from faststream_hare.fastapi import HareRouter
from faststream_hare.ops.cli import main
from tests.support.amqp import depth, wait_depth
from tests.support.broker import MGMT_URL

pytestmark = pytest.mark.rabbit


async def hare(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _module(name: str, **attributes: object) -> str:
    """Register an importable module holding ``attributes``; its name for ``MODULE:ATTR``."""
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    sys.modules[name] = module
    return name


async def _dead_letters(broker: HareBroker, queue: str, n: int) -> None:
    @broker.subscriber(queue, retry_limit=0, delay_in_ms=100)
    async def handle(body: str) -> None:
        raise RuntimeError("down")

    async with broker:
        await broker.start()
        for i in range(n):
            await broker.publish(str(i), queue=queue, message_id=f"m{i}")
        await wait_depth(f"{queue}.dead", n)


async def test_dead_commands_take_the_app_first_or_url(
    prefix: str, broker_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    queue = f"{prefix}.orders"
    broker = HareBroker(broker_url)
    await _dead_letters(broker, queue, 4)
    app = f"{_module(f'hare_cli_forms_{prefix}', broker=broker)}:broker"

    code, out, _ = await hare(capsys, "dead", "list", app, queue, "--json")
    assert code == 0
    assert [r["message_id"] for r in json.loads(out)] == ["m0", "m1", "m2", "m3"]
    code, out, _ = await hare(capsys, "dead", "list", queue, "--url", broker_url, "--json")
    assert (code, len(json.loads(out))) == (0, 4)
    code, out, err = await hare(capsys, "dead", "list", queue, "--app", app, "--json")
    assert (code, len(json.loads(out))) == (0, 4)
    assert "--app is deprecated; give the app first, as for status and console: " in err
    assert f"hare dead ... {app} {queue}" in err

    code, out, _ = await hare(
        capsys, "dead", "replay", app, queue, "--where", "message_id=m0", "--yes"
    )
    assert code == 0
    code, out, _ = await hare(capsys, "replay", app, queue, "--count", "1")
    assert (code, out.strip()) == (0, f"moved 1 message(s) from {queue}.dead to {queue}")
    code, _, err = await hare(capsys, "dead", "purge", app, queue, "--yes")
    assert code == 0
    code, out, _ = await hare(capsys, "dead", "export", queue, "--url", broker_url)
    assert (code, out) == (0, "")
    assert await depth(queue) == 2
    assert await depth(f"{queue}.dead") == 0


async def test_status_of_a_fastapi_app_with_a_hare_router(
    prefix: str, broker_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    router = HareRouter(broker_url)

    @router.subscriber(f"{prefix}.payments", retry_limit=1, delay_in_ms=100)
    async def pay(body: dict) -> None:
        return None

    app = FastAPI()
    app.include_router(router)
    module = _module(f"hare_cli_fastapi_{prefix}", app=app)
    async with router.broker:
        await router.broker.start()
        code, out, err = await hare(
            capsys, "status", f"{module}:app", "--json", "--mgmt-url", MGMT_URL
        )
    assert code == 0, err
    [status] = json.loads(out)
    assert status["queue"] == f"{prefix}.payments"
    assert status["rows"][0]["consumers"] == 1

    bare = _module(f"hare_cli_bare_{prefix}", app=FastAPI())
    code, _, err = await hare(capsys, "status", f"{bare}:app")
    assert code == 2
    assert err.strip() == (
        f"hare: {bare}:app is a FastAPI app without a HareRouter: include one "
        f"(app.include_router(router)), or point hare at the router itself, e.g. {bare}:router"
    )


async def test_topology_of_the_fastapi_example_app_or_its_router(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for target in ("examples.fastapi_app:app", "examples.fastapi_app:router"):
        code, out, _ = await hare(capsys, "topology", target)
        assert code == 0
        assert out.startswith("hare_demo.shipments:\n")
        assert "  queue hare_demo.shipments.dead " in out
