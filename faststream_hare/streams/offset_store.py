"""Storing a named stream consumer's offset on the server: periodically and on stop.

A failed store is logged and tried again at the next tick; the offset tracker remembers
what was stored, so an unchanged offset is not sent again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from faststream_hare._internal.masking import mask_text
from faststream_hare.streams.connection import CLOSE_TIMEOUT_S

if TYPE_CHECKING:
    from rstream import Consumer

    from faststream_hare.streams.offsets import OffsetTracker

logger = logging.getLogger("faststream_hare.streams")

#: How often a named consumer stores its offset on the server (it also stores on stop).
STORE_INTERVAL_S = 1.0


class OffsetStore:
    """Stores ``tracker``'s last processed offset under ``consumer_name``."""

    def __init__(
        self,
        queue: str,
        consumer_name: str | None,
        tracker: Callable[[], OffsetTracker],
        consumer: Callable[[], Consumer | None],
    ) -> None:
        self.queue = queue
        self.consumer_name = consumer_name
        self._tracker = tracker
        self._consumer = consumer

    async def run(self) -> None:
        """Store every ``STORE_INTERVAL_S`` until cancelled."""
        while True:
            await asyncio.sleep(STORE_INTERVAL_S)
            await self.store()

    async def store(self, *, always: bool = False) -> None:
        """Store the last processed offset (if it changed, or ``always``); never raises.

        rstream does not wait for an answer to a store, so "stored" may not be true: the last
        store, on stop, is sent ``always``.
        """
        tracker = self._tracker()
        offset = tracker.last_processed if always else tracker.to_store()
        consumer = self._consumer()
        if self.consumer_name is None or offset is None or consumer is None:
            return
        try:
            await asyncio.wait_for(
                consumer.store_offset(self.queue, self.consumer_name, offset), CLOSE_TIMEOUT_S
            )
        except Exception as exc:
            logger.warning(
                "Could not store offset %d of stream queue '%s' for '%s' (%s); will retry",
                offset,
                self.queue,
                self.consumer_name,
                mask_text(str(exc)),
            )
            return
        tracker.stored(offset)
