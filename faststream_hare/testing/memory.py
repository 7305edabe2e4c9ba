"""Dead letters kept in memory, as a test of ``TestRabbitBroker(HareBroker(...))`` sees them.

Under the test broker a copy sent to ``Q.dead`` is kept by the memory transport
(``transport/memory.py``); ``dead_letters(broker, queue)`` shows them to the test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from faststream_hare.contract.names import dead_queue_name

__all__ = ("DeadLetter", "dead_letters")


@dataclass(frozen=True)
class DeadLetter:
    """A dead copy as a test sees it."""

    body: bytes
    headers: dict[str, Any]
    content_type: str | None
    message_id: str | None
    correlation_id: str | None

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


def dead_letters(broker: Any, queue: str) -> list[DeadLetter]:
    """The dead copies of ``queue`` (its ``Q.dead``) kept by ``broker``, oldest first."""
    runtime = getattr(broker, "hare_runtime", None)
    held = runtime.held(dead_queue_name(queue)) if runtime is not None else None
    return [
        DeadLetter(
            body=copy.body,
            headers=dict(copy.headers),
            content_type=copy.content_type,
            message_id=copy.message_id,
            correlation_id=copy.correlation_id,
        )
        for copy in held or ()
    ]
