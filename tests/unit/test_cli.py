"""The ``hare`` command prints the planned topology and reports errors in one line."""

from __future__ import annotations

import pytest

from faststream_hare.ops.cli import main


def test_topology_of_the_quickstart(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topology", "examples.quickstart:app"]) == 0
    out = capsys.readouterr().out
    assert "hare_demo.orders:" in out
    assert "exchange hare_demo.orders_ex (topic, durable)" in out
    assert "queue hare_demo.orders.delay.500 {'x-message-ttl': 500" in out
    assert "bind hare_demo.orders_ex -> exchange hare_demo.orders (order.created)" in out


def test_bad_target_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topology", "examples.quickstart:nothing"]) == 2
    assert capsys.readouterr().err.startswith("hare: ")
