"""The real path of hare's copies: a confirm channel of their own, mandatory routing."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faststream_hare.contract.copies import MessageCopy
    from faststream_hare.runtime import HareRuntime


class BrokerTransport:
    """Sends a copy through the default exchange and waits for the broker's confirm."""

    def __init__(self, runtime: HareRuntime) -> None:
        self.runtime = runtime

    async def send(self, queue: str, copy: MessageCopy) -> None:
        """Raise a ``ConfirmError`` unless the broker confirmed the copy."""
        timeout = self.runtime.settings.confirm_timeout_ms / 1000
        await self.runtime.copies.publish_raw(
            copy.body, copy.properties(), exchange="", routing_key=queue, timeout=timeout
        )

    def held(self, queue: str) -> list[MessageCopy] | None:
        """The real broker holds its queues itself."""
        return None
