"""A tiny client of RabbitMQ's management HTTP API, for tests to look at real topology."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from tests.support.broker import AMQP_URL, MGMT_URL, REDIS_URL

__all__ = ["AMQP_URL", "MGMT_URL", "REDIS_URL", "RabbitAdmin"]

_AUTH = "Basic " + base64.b64encode(b"guest:guest").decode()
_VHOST = "%2F"


class RabbitAdmin:
    """Queries and deletes entities; ``None`` means "does not exist"."""

    def _call(self, method: str, path: str, *, tries: int = 5) -> Any:
        """The answer's JSON; ``None`` on 404. A 5xx is tried again (up to ``tries`` times):
        a loaded broker's management API answers 500 now and then, e.g. while listing a
        queue that is being deleted."""
        request = urllib.request.Request(
            f"{MGMT_URL}/api/{path}", method=method, headers={"Authorization": _AUTH}
        )
        for attempt in range(1, tries + 1):
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    body = response.read()
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return None
                if exc.code < 500 or attempt == tries:
                    raise
                time.sleep(0.2 * attempt)
                continue
            return json.loads(body) if body else None
        raise AssertionError("unreachable")

    def queue(self, name: str) -> dict[str, Any] | None:
        return self._call("GET", f"queues/{_VHOST}/{urllib.parse.quote(name, safe='')}")

    def exchange(self, name: str) -> dict[str, Any] | None:
        return self._call("GET", f"exchanges/{_VHOST}/{urllib.parse.quote(name, safe='')}")

    def queues(self, prefix: str) -> list[dict[str, Any]]:
        return [
            q for q in self._call("GET", f"queues/{_VHOST}") or [] if q["name"].startswith(prefix)
        ]

    def exchanges(self, prefix: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self._call("GET", f"exchanges/{_VHOST}") or []
            if e["name"].startswith(prefix)
        ]

    def bindings(self, prefix: str) -> list[tuple[str, str, str, str]]:
        """``(source, destination, destination_type, routing_key)`` touching ``prefix``."""
        return [
            (b["source"], b["destination"], b["destination_type"], b["routing_key"])
            for b in self._call("GET", f"bindings/{_VHOST}") or []
            if b["source"].startswith(prefix) or b["destination"].startswith(prefix)
        ]

    def wait_for(self, name: str, predicate: Any, timeout: float = 15.0) -> dict[str, Any]:
        """Poll a queue until ``predicate(queue_info)``; stats lag a few seconds."""
        deadline = time.monotonic() + timeout
        info: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            info = self.queue(name)
            try:
                if info is not None and predicate(info):
                    return info
            except KeyError:  # the management stats of a new queue are not collected yet
                pass
            time.sleep(0.25)
        raise AssertionError(f"queue {name} never matched; last seen: {info}")

    def delete_prefix(self, prefix: str) -> None:
        for q in self.queues(prefix):
            self._call("DELETE", f"queues/{_VHOST}/{urllib.parse.quote(q['name'], safe='')}")
        for e in self.exchanges(prefix):
            self._call("DELETE", f"exchanges/{_VHOST}/{urllib.parse.quote(e['name'], safe='')}")

    def connections(self, name_prefix: str) -> list[dict[str, Any]]:
        """Connections whose client-provided ``connection_name`` starts with ``name_prefix``."""
        return [
            c
            for c in self._call("GET", "connections") or []
            if str((c.get("client_properties") or {}).get("connection_name", "")).startswith(
                name_prefix
            )
        ]

    def close_connections(self, name_prefix: str) -> int:
        """Close (from the broker side) this test's connections only; returns how many."""
        closed = 0
        for c in self.connections(name_prefix):
            try:
                path = f"connections/{urllib.parse.quote(c['name'], safe='')}"
                self._call("DELETE", path, tries=1)
            except urllib.error.HTTPError as exc:
                if exc.code != 500:  # 500: it closed by itself meanwhile (a cut, a reconnect)
                    raise
                continue
            closed += 1
        return closed


def classic_arguments(info: dict[str, Any]) -> dict[str, Any]:
    """A classic queue's arguments as its declarer gave them.

    RabbitMQ 4.0 adds ``x-queue-type: classic`` to every classic queue it reports; 3.10 does
    not. The queue's kind is asserted through ``type`` instead, and the rest must match exactly.
    """
    assert info["type"] == "classic", info
    return {k: v for k, v in info["arguments"].items() if k != "x-queue-type"}
