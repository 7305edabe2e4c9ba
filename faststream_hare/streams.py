"""Stream consumers over the RabbitMQ stream protocol (rstream)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faststream_hare.errors import HareNotImplementedError

if TYPE_CHECKING:
    from faststream_hare.broker import HareBroker
    from faststream_hare.subscriber import HareSubscriber


class StreamConsumer:
    """Consumes one stream queue with rstream and feeds the subscriber's handlers."""

    def __init__(self, subscriber: HareSubscriber, broker: HareBroker) -> None:
        self.subscriber = subscriber
        self.broker = broker

    async def start(self) -> None:
        msg = "stream=True is not implemented yet (issue: stream consumers)."
        raise HareNotImplementedError(msg)

    async def stop(self) -> None:
        return None
