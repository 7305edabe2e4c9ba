"""A small read-only client of RabbitMQ's management HTTP API (queue arguments, unacked counts).

Ready counts and consumers come from passive declares (exact, no lag); the management API
adds what AMQP cannot tell: unacked counts, a queue's arguments and effective policy, an
exchange's type. Its numbers lag by a few seconds (the broker's statistics interval). When it
cannot be reached, callers show "?" and the doctor says which checks it skipped.
"""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from yarl import URL

from faststream_hare.errors import ManagementUnavailableError

DEFAULT_PORT = 15672
TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Management:
    """The API at ``base`` (``http://host:15672``) for ``vhost``, with the URL's credentials."""

    base: str
    vhost: str
    username: str = field(repr=False)
    password: str = field(repr=False)

    @classmethod
    def for_url(cls, amqp_url: str, mgmt_url: str | None = None) -> Management:
        """Host and credentials from the AMQP URL; ``mgmt_url`` overrides the base."""
        amqp = URL(amqp_url)
        base = (
            mgmt_url.rstrip("/")
            if mgmt_url
            else f"http://{amqp.host or 'localhost'}:{DEFAULT_PORT}"
        )
        return cls(
            base=base,
            vhost=amqp.path[1:] or "/",
            username=amqp.user or "guest",
            password=amqp.password or "guest",
        )

    async def queue(self, name: str) -> dict[str, Any] | None:
        """The queue's record, ``None`` when it does not exist."""
        result = await self._get(f"queues/{self._q(self.vhost)}/{self._q(name)}")
        return result if isinstance(result, dict) else None

    async def queues(self) -> list[dict[str, Any]]:
        """Every queue of the vhost."""
        result = await self._get(f"queues/{self._q(self.vhost)}")
        return result if isinstance(result, list) else []

    async def stream_consumers(self, stream: str) -> int | None:
        """Consumers reading ``stream`` over the stream protocol (RabbitMQ counts none of
        them as the queue's consumers); ``None`` without the stream management plugin."""
        result = await self._get(f"stream/consumers/{self._q(self.vhost)}")
        if not isinstance(result, list):
            return None
        return sum(1 for c in result if (c.get("queue") or {}).get("name") == stream)

    async def exchange(self, name: str) -> dict[str, Any] | None:
        """The exchange's record, ``None`` when it does not exist."""
        result = await self._get(f"exchanges/{self._q(self.vhost)}/{self._q(name)}")
        return result if isinstance(result, dict) else None

    async def bound(self, exchange: str, queue: str, routing_key: str) -> bool:
        """True when ``queue`` is bound to ``exchange`` with ``routing_key``."""
        path = f"bindings/{self._q(self.vhost)}/e/{self._q(exchange)}/q/{self._q(queue)}"
        result = await self._get(path)
        records = result if isinstance(result, list) else []
        return any(record.get("routing_key") == routing_key for record in records)

    async def _get(self, path: str) -> Any:
        return await asyncio.to_thread(self._get_sync, path)

    def _get_sync(self, path: str) -> Any:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        request = urllib.request.Request(
            f"{self.base}/api/{path}", headers={"Authorization": f"Basic {token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise ManagementUnavailableError(self.base, f"HTTP {exc.code}") from None
        except (OSError, ValueError) as exc:
            raise ManagementUnavailableError(self.base, type(exc).__name__) from None

    @staticmethod
    def _q(part: str) -> str:
        return urllib.parse.quote(part, safe="")
