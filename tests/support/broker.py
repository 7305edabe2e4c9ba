"""Which RabbitMQ the tests run against, in one place: its URLs, stream port and CLI tools.

The machine's own broker (5672, 5552, 15672; ``rabbitmqctl`` on ``PATH``) unless the
environment says otherwise. ``HARE_RABBITMQ=4.0`` selects the RabbitMQ 4.0 node that
``scripts/rabbitmq4.sh start beside`` runs next to it (5673, 5553, 15673; its CLI wrappers in
``$HARE_RABBITMQ4_ROOT.bin``). Each piece can also be set on its own:

- ``HARE_TEST_AMQP_URL``   ``amqp://guest:guest@127.0.0.1:5672/``
- ``HARE_TEST_STREAM_PORT`` ``5552``
- ``HARE_TEST_MGMT_URL``   ``http://127.0.0.1:15672``
- ``HARE_TEST_RABBITMQ_BIN`` a folder holding ``rabbitmqctl`` and friends (default: ``PATH``)
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

from yarl import URL

#: ``HARE_RABBITMQ``: empty (the machine's broker) or ``4.0`` (the node beside it).
VERSION_CHOICE = os.environ.get("HARE_RABBITMQ", "").strip()
_BESIDE = VERSION_CHOICE == "4.0"
_RABBITMQ4_BIN = os.environ.get("HARE_RABBITMQ4_ROOT", "/var/lib/hare/debian13") + ".bin"

AMQP_URL = os.environ.get(
    "HARE_TEST_AMQP_URL", f"amqp://guest:guest@127.0.0.1:{5673 if _BESIDE else 5672}/"
)
STREAM_PORT = int(os.environ.get("HARE_TEST_STREAM_PORT", 5553 if _BESIDE else 5552))
MGMT_URL = os.environ.get("HARE_TEST_MGMT_URL", f"http://127.0.0.1:{15673 if _BESIDE else 15672}")
REDIS_URL = os.environ.get("HARE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CLI_DIR = os.environ.get("HARE_TEST_RABBITMQ_BIN", _RABBITMQ4_BIN if _BESIDE else "")

_AMQP = URL(AMQP_URL)
AMQP_HOST = _AMQP.host or "127.0.0.1"
AMQP_PORT = _AMQP.port or 5672
#: The stream endpoint of the broker in use, with the AMQP URL's credentials.
STREAM_URL = str(
    URL.build(
        scheme="rabbitmq-stream",
        user=_AMQP.user or "guest",
        password=_AMQP.password or "guest",
        host=AMQP_HOST,
        port=STREAM_PORT,
        path=_AMQP.path or "/",
    )
)


def cli(tool: str) -> str:
    """The path of ``tool`` (``rabbitmqctl``, ``rabbitmq-streams``, …) for the broker in use."""
    if CLI_DIR:
        return str(Path(CLI_DIR) / tool)
    return shutil.which(tool) or tool


def rabbitmqctl(*args: str, timeout: float = 60) -> str:
    """Run ``rabbitmqctl ARGS`` against the broker in use; its stdout (fails on an error)."""
    done = subprocess.run(
        [cli("rabbitmqctl"), *args], check=True, capture_output=True, text=True, timeout=timeout
    )
    return done.stdout


def app_environment() -> dict[str, str]:
    """``HARE_MQ_*`` variables that point an app configured from the environment at this
    broker; empty when hare's defaults (guest on localhost:5672, streams on 5552) reach it."""
    at_default = (
        AMQP_HOST in ("localhost", "127.0.0.1")
        and (AMQP_PORT, STREAM_PORT) == (5672, 5552)
        and _AMQP.path in ("", "/")
        and (_AMQP.user or "guest", _AMQP.password or "guest") == ("guest", "guest")
    )
    return {} if at_default else {"HARE_MQ_URL": AMQP_URL, "HARE_MQ_STREAM_URL": STREAM_URL}


def where() -> str:
    """Where the broker in use is, for the report header (no password)."""
    cli_tools = CLI_DIR or "PATH"
    shown = str(_AMQP.with_password("***")) if _AMQP.password else AMQP_URL
    return f"{shown}, streams :{STREAM_PORT}, {MGMT_URL}, CLI from {cli_tools}"


def version() -> str | None:
    """The broker's ``rabbitmq_version`` from the management API (``None``: not reachable)."""
    request = urllib.request.Request(
        f"{MGMT_URL}/api/overview",
        headers={"Authorization": "Basic " + base64.b64encode(b"guest:guest").decode()},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return str(json.loads(response.read())["rabbitmq_version"])
    except (OSError, ValueError, KeyError):
        return None
