"""What the retry path needs of a hare subscriber, and how it recognises one.

A subscriber is hare's when it carries ``SubscriberOptions`` as ``.hare``; retry reads the
rest through this protocol, so it never imports the subscriber class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from faststream_hare.config.subscriber import SubscriberOptions

if TYPE_CHECKING:
    from faststream_hare.retry.pending import PendingHandoffs
    from faststream_hare.retry.requeue_backoff import RequeueBackoff
    from faststream_hare.runtime import HareRuntime


class HareEndpoint(Protocol):
    """A hare subscriber as the retry path sees it."""

    hare: SubscriberOptions
    requeue_backoff: RequeueBackoff
    handoffs: PendingHandoffs

    @property
    def hare_runtime(self) -> HareRuntime:
        """The runtime of the broker it belongs to."""

    @property
    def queue_name(self) -> str:
        """The real queue name ``Q``."""

    @property
    def routing_key(self) -> str:
        """The routing key ``R``."""


def as_hare_endpoint(handler: Any) -> HareEndpoint | None:
    """``handler`` when it is a hare subscriber (it carries hare options), else ``None``."""
    if isinstance(getattr(handler, "hare", None), SubscriberOptions):
        endpoint: HareEndpoint = handler
        return endpoint
    return None
