"""Finding the HareBroker a subscriber or publisher belongs to (routers attach late)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faststream_hare._internal import faststream as _faststream
from faststream_hare.errors import HareConfigError

if TYPE_CHECKING:
    from faststream.rabbit.publisher.usecase import RabbitPublisher
    from faststream.rabbit.subscriber.usecase import RabbitSubscriber

    from faststream_hare.broker import HareBroker


def hare_broker_of(
    endpoint: RabbitSubscriber | RabbitPublisher, *, kind: str, name: str
) -> HareBroker:
    """The endpoint's HareBroker; a one-sentence error when it hangs off anything else."""
    from faststream_hare.broker import HareBroker

    broker = _faststream.broker_of(endpoint)
    if not isinstance(broker, HareBroker):
        msg = (
            f"{kind} '{name}' has hare options but is not attached to a HareBroker; "
            "include its HareRouter in a HareBroker."
        )
        raise HareConfigError(msg)
    return broker
