"""The ``hare`` command prints the planned topology and reports errors in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


def test_app_is_loaded_from_the_current_directory(tmp_path: Path) -> None:
    """``hare topology shop:app`` in the directory of shop.py, as ``faststream run`` does."""
    (tmp_path / "shop.py").write_text(
        "from faststream import FastStream\n"
        "from faststream_hare import HareBroker\n"
        "broker = HareBroker()\n"
        "@broker.subscriber('shop_orders', exchange='shop_ex', routing_key='order.created')\n"
        "async def handle(body: str) -> None: ...\n"
        "app = FastStream(broker)\n"
    )
    hare = Path(sys.executable).with_name("hare")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run(
        [str(hare), "topology", "shop:app"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "exchange shop_ex (topic, durable)" in done.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["dead", "list", "Q"],
        ["dead", "export", "Q"],
        ["dead", "replay", "Q"],
        ["dead", "purge", "Q"],
        ["doctor", "app:app"],
        ["console"],
    ],
)
def test_every_command_reads_the_management_url_from_the_environment(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator on a broker whose management API is not on port 15672 says so once."""
    from faststream_hare.ops.cli import build_parser

    monkeypatch.setenv("HARE_MGMT_URL", "http://127.0.0.1:15673")
    assert build_parser().parse_args(argv).mgmt_url == "http://127.0.0.1:15673"
    assert build_parser().parse_args([*argv, "--mgmt-url", "http://m:1"]).mgmt_url == "http://m:1"
