"""Drive ``scripts/cluster.sh`` and look at the cluster through its management API.

The cluster's management API is reached on any running node (a killed node does not answer);
AMQP and streams go through HAProxy, as an application would.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.broker import VERSION_CHOICE

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "cluster.sh"
#: The nodes run the broker under test (``HARE_RABBITMQ``, as ``scripts/cluster.sh`` reads it):
#: the machine's RabbitMQ, or 4.0 from the Debian 13 root of ``scripts/rabbitmq4.sh``.
ON_RABBITMQ4 = VERSION_CHOICE == "4.0"
NODE_PREFIX = "r4hare" if ON_RABBITMQ4 else "hare"
_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
RABBITMQ_SERVER = Path(
    os.environ.get("HARE_RABBITMQ4_ROOT", "/var/lib/hare/debian13") + _SERVER
    if ON_RABBITMQ4
    else _SERVER
)
_AUTH = "Basic " + base64.b64encode(b"guest:guest").decode()
_VHOST = "%2F"
_NODE_LINE = re.compile(
    r"^(?P<name>[a-z0-9]*hare(?P<number>\d)@\S+) (?P<state>\w+) (?P<mgmt>http://\S+)$"
)


def unusable_reason() -> str | None:
    """Why ``scripts/cluster.sh`` cannot run here (``None``: it can)."""
    if os.environ.get("HARE_CLUSTER_TESTS", "1") == "0":
        return "cluster tests disabled by HARE_CLUSTER_TESTS=0"
    if shutil.which("bash") is None:
        return "bash is not available"
    if not RABBITMQ_SERVER.exists():
        setup = "scripts/rabbitmq4.sh build" if ON_RABBITMQ4 else "apt-get install rabbitmq-server"
        return f"RabbitMQ is not installed ({RABBITMQ_SERVER} missing; {setup})"
    if shutil.which("haproxy") is None and os.geteuid() != 0:
        return "haproxy is not installed and only root can apt-get install it"
    return None


def run_script(*args: str, timeout: float = 300.0) -> str:
    """Run ``scripts/cluster.sh ARGS``; fail with its output when it fails."""
    result = subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"cluster.sh {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def rabbitmqctl(number: int, *args: str) -> str:
    """``rabbitmqctl ARGS`` against node ``number``, with the cluster's cookie and env file."""
    return run_script("ctl", str(number), "rabbitmqctl", *args, timeout=60)


def node_name(number: int) -> str:
    """The name ``scripts/cluster.sh`` gives node ``number``."""
    return f"{NODE_PREFIX}{number}@localhost"


@dataclass(frozen=True)
class Node:
    number: int
    name: str
    state: str
    mgmt_url: str


@dataclass(frozen=True)
class Status:
    nodes: tuple[Node, ...]
    amqp_url: str
    stream_url: str


def parse_status(text: str) -> Status:
    """Read ``cluster.sh status``: one line per node, then the AMQP and stream URLs."""
    lines = [line for line in text.splitlines() if line.strip()]
    nodes = []
    for line in lines[:-2]:
        match = _NODE_LINE.match(line)
        assert match is not None, f"unexpected status line: {line!r}"
        nodes.append(
            Node(int(match["number"]), match["name"], match["state"], match["mgmt"].rstrip("/"))
        )
    amqp_url, stream_url = lines[-2:]
    assert amqp_url.startswith("amqp://"), amqp_url
    assert stream_url.startswith("rabbitmq-stream://"), stream_url
    return Status(tuple(nodes), amqp_url, stream_url)


class Cluster:
    """The running cluster: URLs through HAProxy, node control and the management API."""

    def __init__(self, status: Status) -> None:
        self.nodes = status.nodes
        self.amqp_url = status.amqp_url
        self.stream_url = status.stream_url

    def status(self) -> Status:
        return parse_status(run_script("status"))

    def kill(self, number: int) -> None:
        run_script("kill", str(number))

    def revive(self, number: int) -> None:
        run_script("revive", str(number))

    def node_number(self, name: str) -> int:
        return next(node.number for node in self.nodes if node.name == name)

    def url(self, name: str) -> str:
        """The AMQP URL through HAProxy with a connection name (found again in the API)."""
        return f"{self.amqp_url.rstrip('/')}/?name={name}"

    # -- management API (any node that answers) --------------------------------------

    def _call(self, method: str, path: str) -> Any:
        errors = []
        for node in self.nodes:
            request = urllib.request.Request(
                f"{node.mgmt_url}/api/{path}", method=method, headers={"Authorization": _AUTH}
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    body = response.read()
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return None
                errors.append(f"{node.name}: {exc}")
                continue
            except OSError as exc:  # a killed node: ask the next one
                errors.append(f"{node.name}: {exc}")
                continue
            return json.loads(body) if body else None
        raise AssertionError(f"no node answered {method} /api/{path}: {errors}")

    def queue(self, name: str) -> dict[str, Any] | None:
        info: dict[str, Any] | None = self._call(
            "GET", f"queues/{_VHOST}/{urllib.parse.quote(name, safe='')}"
        )
        return info

    def queues(self, prefix: str) -> list[dict[str, Any]]:
        return [
            q for q in self._call("GET", f"queues/{_VHOST}") or [] if q["name"].startswith(prefix)
        ]

    def describe(self, prefix: str) -> str:
        """Depths, consumers and members of the queues under ``prefix`` (for failure messages)."""
        rows = []
        for q in self.queues(prefix):
            rows.append(
                f"{q['name']}: messages={q.get('messages')} ready={q.get('messages_ready')} "
                f"unacked={q.get('messages_unacknowledged')} consumers={q.get('consumers')} "
                f"leader={q.get('leader')} online={q.get('online')}"
            )
        return "\n".join(rows)

    def held_dead_letters(self, queue: str) -> int:
        """Messages a quorum queue keeps for at-least-once dead-lettering: counted in
        ``messages`` but neither ready nor unacked (they leave once the target confirmed)."""
        info = self.queue(queue) or {}
        total = int(info.get("messages") or 0)
        return (
            total
            - int(info.get("messages_ready") or 0)
            - int(info.get("messages_unacknowledged") or 0)
        )

    def move_leader(self, queue: str) -> str:
        """Hand a quorum queue's leadership to another running member (``ra``'s own call);
        the new leader starts the queue's dead-letter worker afresh. Returns the new leader."""
        name = queue.replace("\\", "\\\\").replace('"', '\\"')
        expression = (
            f'{{ok, Q}} = rabbit_amqqueue:lookup(rabbit_misc:r(<<"/">>, queue, <<"{name}">>)),'
            "{Ra, Leader} = amqqueue:get_pid(Q),"
            "Members = maps:get(nodes, amqqueue:get_type_state(Q)),"
            "[Target | _] = [N || N <- Members, N =/= Leader,"
            " lists:member(N, rabbit_nodes:all_running())],"
            "ok = ra:transfer_leadership({Ra, Leader}, {Ra, Target}),"
            "Target."
        )
        running = next(n for n in self.status().nodes if n.state == "running")
        return rabbitmqctl(running.number, "eval", expression).strip()

    def leader(self, queue: str) -> str:
        """The node leading a quorum queue (or a stream) right now."""
        info = self.queue(queue)
        assert info is not None, f"queue {queue} does not exist"
        return str(info.get("leader") or info["node"])

    def connection_nodes(self, name_prefix: str) -> list[str]:
        """Nodes holding the AMQP connections whose name starts with ``name_prefix``."""
        return [
            str(c["node"])
            for c in self._call("GET", "connections") or []
            if str((c.get("client_properties") or {}).get("connection_name", "")).startswith(
                name_prefix
            )
        ]

    def delete_prefix(self, prefix: str) -> None:
        for q in self.queues(prefix):
            self._call("DELETE", f"queues/{_VHOST}/{urllib.parse.quote(q['name'], safe='')}")
        for e in self._call("GET", f"exchanges/{_VHOST}") or []:
            if e["name"].startswith(prefix):
                name = urllib.parse.quote(e["name"], safe="")
                self._call("DELETE", f"exchanges/{_VHOST}/{name}")

    def wait_members(self, queue: str, count: int, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until ``queue`` has ``count`` members all online (a revived node catches up)."""
        deadline = time.monotonic() + timeout
        info: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            info = self.queue(queue)
            if (
                info is not None
                and len(info.get("members") or ()) == count
                and len(info.get("online") or ()) == count
            ):
                return info
            time.sleep(0.5)
        raise AssertionError(f"queue {queue} never had {count} online members; last: {info}")
