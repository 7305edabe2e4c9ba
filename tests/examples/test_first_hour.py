"""docs/first-hour.md, run end to end: its commands in order, against RabbitMQ and Redis.

``uvicorn`` is FastAPI's ``TestClient`` (the app's lifespan starts the broker); each ``curl``
is the same request through it, its printed answer checked; each ``hare`` command runs through
the real entry point (``hare console`` serves until stopped: only its arguments are checked).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import re
import shlex
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from faststream_hare.ops.cli import build_parser, main
from tests.support.pools import queue_state
from tests.support.redis_server import ThrowawayRedis

pytestmark = [pytest.mark.rabbit, pytest.mark.usefixtures("order_service_entities")]
PAGE = Path(__file__).parents[2] / "docs" / "first-hour.md"


def steps() -> list[tuple[str, list[str]]]:
    """Each ``$ command`` of the page's console blocks with the lines it prints."""
    found: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", PAGE.read_text(), flags=re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                found.append((line[2:], []))
            elif found:
                found[-1][1].append(line)
    return found


def quoted_log_line(marker: str) -> str:
    """The page's quoted log line that contains ``marker``."""
    blocks = re.findall(r"```text\n(.*?)```", PAGE.read_text(), flags=re.S)
    return next(line for b in blocks for line in b.splitlines() if marker in line)


def fresh() -> ModuleType:
    sys.modules.pop("examples.order_service", None)
    return importlib.import_module("examples.order_service")


def wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + 20
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_the_first_hour_walkthrough(
    throwaway_redis: ThrowawayRedis,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    broker_url: str,
) -> None:
    from fastapi.testclient import TestClient

    throwaway_redis.start()  # the orders' ids are fixed: a Redis of this test's own
    monkeypatch.setenv("HARE_MQ_URL", broker_url)
    monkeypatch.setenv("HARE_MQ_DEDUP_URL", throwaway_redis.url)
    commands = steps()
    assert [c.split()[0] for c, _ in commands][:1] == ["uvicorn"]
    shop = fresh()
    ran: list[str] = []
    access = logging.getLogger("faststream.access.rabbit")  # FastStream's: it does not propagate
    monkeypatch.setattr(access, "handlers", [*access.handlers, caplog.handler])
    with caplog.at_level(logging.INFO), TestClient(shop.app) as client:
        for command, printed in commands[1:]:
            words = shlex.split(command)
            if words[0] == "curl" and "-d" in words:
                answer = client.post("/orders", json=json.loads(words[words.index("-d") + 1]))
                assert answer.json() == json.loads(printed[0]), command
            elif words[0] == "curl":
                wait_for(lambda: asyncio.run(queue_state(f"{PAYMENTS}.dead")).ready == 1, "dead")
                assert 'exception="CardDeclinedError"' in client.get("/metrics").text
            elif words[:2] == ["hare", "console"]:
                assert build_parser().parse_args(words[1:]).app == "examples.order_service:app"
            else:
                assert words[0] == "hare", command
                wait_for(lambda: shop.charged == [1] and len(shop.audit_log) == 2, "handled")
                capsys.readouterr()
                assert main(words[1:]) == 0, command
                out = capsys.readouterr().out
                if words[1:3] == ["dead", "list"]:
                    assert "CardDeclinedError" in out
                    assert "card declined for order 2" in out
            ran.append(words[0] if words[0] != "hare" else " ".join(words[:3]))
    assert ran == [
        "curl",
        "curl",
        "curl",
        "hare status examples.order_service:app",
        "hare dead list",
        "hare dead replay",
        "hare topology examples.order_service:app",
        "hare console examples.order_service:app",
        "curl",
    ]
    logged = [r.getMessage() for r in caplog.records]
    assert quoted_log_line("dead-lettered to") in logged
    assert asyncio.run(queue_state(f"{PAYMENTS}.dead")).ready == 1  # the dry run moved nothing


PAYMENTS = "ordersvc.payments"
