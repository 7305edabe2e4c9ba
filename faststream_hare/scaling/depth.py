"""Queue depth for the auto-scaler, read on a channel of its own.

A passive declare of a missing queue closes the channel it runs on; doing it on a private
channel keeps the workers' and the broker's channels untouched (HareMq E29).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from faststream_hare._internal.channels import (
    OPERATION_TIMEOUT_S,
    close_quietly,
    open_plain_channel,
)
from faststream_hare._internal.masking import mask_text

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aio_pika.abc import AbstractChannel, AbstractConnection

logger = logging.getLogger("faststream_hare.scaling")


class DepthSampler:
    """Reads the number of ready messages of one queue; ``None`` when it cannot."""

    def __init__(self, queue: str, connect: Callable[[], Awaitable[AbstractConnection]]) -> None:
        self.queue = queue
        self._connect = connect
        self._channel: AbstractChannel | None = None
        self._failing = False

    async def sample(self) -> int | None:
        """Ready messages (unacked ones are not counted, as in HareMq); ``None`` on error."""
        try:
            channel = await self._open()
            declared = await channel.declare_queue(
                self.queue, passive=True, timeout=OPERATION_TIMEOUT_S
            )
        except Exception as exc:
            # Warn once per streak of failures; the checks after it go to debug.
            logger.log(
                logging.DEBUG if self._failing else logging.WARNING,
                "Cannot read the depth of queue '%s' (%s); keeping the pool size",
                self.queue,
                mask_text(repr(exc)),
            )
            self._failing = True
            await self.close()
            return None
        if self._failing:
            logger.info("The depth of queue '%s' can be read again", self.queue)
            self._failing = False
        result = declared.declaration_result
        return int(result.message_count or 0)

    async def _open(self) -> AbstractChannel:
        if self._channel is None or self._channel.is_closed:
            self._channel = await open_plain_channel(await self._connect())
        return self._channel

    async def close(self) -> None:
        """Close the sampling channel (it is re-opened by the next sample)."""
        channel, self._channel = self._channel, None
        await close_quietly(channel)
