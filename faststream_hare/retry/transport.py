"""Where hare's copies go: the real broker (with confirms) or, under TestRabbitBroker, memory."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from faststream_hare._internal import faststream as _faststream
from faststream_hare._internal.confirm import confirmed_publisher

if TYPE_CHECKING:
    from faststream_hare.broker import HareBroker
    from faststream_hare.retry.copies import MessageCopy


class CopyTransport(Protocol):
    """Sends a copy to a queue via the default exchange; ``ConfirmError`` if not taken."""

    async def send(self, queue: str, copy: MessageCopy) -> None: ...


class BrokerTransport:
    """The real path: publisher confirms and mandatory routing."""

    def __init__(self, broker: HareBroker) -> None:
        self.broker = broker

    async def send(self, queue: str, copy: MessageCopy) -> None:
        publisher = confirmed_publisher(self.broker)
        timeout = self.broker.active_settings.confirm_timeout_ms / 1000
        await publisher.publish(copy.to_aio_pika(), exchange="", routing_key=queue, timeout=timeout)


def transport_for(broker: HareBroker) -> CopyTransport:
    """Pick the transport for this broker's current mode."""
    if _faststream.is_in_memory(broker):
        from faststream_hare.testing.memory import MemoryTransport

        return MemoryTransport(broker)
    return BrokerTransport(broker)
