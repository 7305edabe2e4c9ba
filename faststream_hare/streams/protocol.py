"""What a stream consumer needs of its hare subscriber, and its one error of its own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from faststream_hare.config.subscriber import SubscriberOptions


class StreamSubscriber(Protocol):
    """A hare stream subscriber as its consumer sees it."""

    @property
    def hare(self) -> SubscriberOptions: ...

    @property
    def queue_name(self) -> str: ...

    @property
    def running(self) -> bool: ...

    async def consume(self, msg: Any) -> Any: ...

    def emit_connected(self) -> None: ...
