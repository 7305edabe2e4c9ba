"""A pool of named workers (``<queue>.W<n>``) consuming one queue, each on its own channel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faststream_hare.errors import HareNotImplementedError

if TYPE_CHECKING:
    from faststream_hare.broker import HareBroker
    from faststream_hare.subscriber import HareSubscriber


class ConsumerPool:
    """Workers of one hare subscriber; see DESIGN §6."""

    def __init__(self, subscriber: HareSubscriber, broker: HareBroker) -> None:
        self.subscriber = subscriber
        self.broker = broker

    @property
    def size(self) -> int:
        return 0

    def list_consumers(self) -> list[str]:
        return []

    async def start(self) -> None:
        msg = "consumer_count/auto_scaling/cluster_unique are not implemented yet (issue: pools)."
        raise HareNotImplementedError(msg)

    async def stop(self) -> None:
        return None

    async def add_consumer(self) -> str:
        msg = "add_consumer is not implemented yet."
        raise HareNotImplementedError(msg)

    async def remove_consumer(self) -> str | None:
        msg = "remove_consumer is not implemented yet."
        raise HareNotImplementedError(msg)
