"""Publishes gathered per event-loop turn and written together (see ``aiormq_frames``).

Each caller gets a future of its own that ends like aiormq's confirmation for its message:
the ``basic.ack`` frame, or the error (returned, nacked, channel closed). A caller that
stopped waiting before its turn was written (a timeout, a stop) is left out of the write, so
nothing is published on behalf of someone who already gave up.

aiormq matches a ``basic.return`` to its publish by message id, and hare's copies keep their
original's id (two subscribers' copies of one fanned-out message share it). So no two publishes
with one id are ever in flight together here: a publish whose id still awaits its confirm joins
a later write, once that confirm ended, and a return always names exactly its own publish.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiormq.exceptions import ChannelInvalidStateError

from faststream_hare._internal import compat
from faststream_hare._internal.aiormq_frames import Publish, write_publishes
from faststream_hare._internal.channels import OPERATION_TIMEOUT_S
from faststream_hare._internal.tasks import end_tasks

if TYPE_CHECKING:
    from aiormq.abc import AbstractChannel

#: At most this many messages in one write (a bounded frame buffer, a fair share of the loop).
MAX_BATCH = 256

ChannelSource = Callable[[], Awaitable["AbstractChannel"]]


class PublishPipeline:
    """Collects publishes for one channel and writes each turn's worth in one go."""

    def __init__(self, channel: ChannelSource) -> None:
        self._channel = channel
        self._waiting: list[tuple[Publish, asyncio.Future[Any]]] = []
        self._writer: asyncio.Task[None] | None = None
        #: Message id → the confirmation of the publish with that id in flight.
        self._in_flight: dict[str, asyncio.Future[Any]] = {}

    def submit(self, publish: Publish) -> asyncio.Future[Any]:
        """Queue ``publish`` for this turn's write; the future ends with its confirm."""
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[Any] = loop.create_future()
        self._waiting.append((publish, outcome))
        self._ensure_writer()
        return outcome

    def _ensure_writer(self) -> None:
        if self._writer is None:
            loop = asyncio.get_running_loop()
            self._writer = loop.create_task(self._write_all(), name="hare-publish-pipeline")

    async def close(self) -> None:
        """Stop writing; publishes not yet written fail as not connected."""
        writer, self._writer = self._writer, None
        if writer is not None:
            await end_tasks([writer])
        self._fail_waiting(_channel_closed())

    async def _write_all(self) -> None:
        try:
            while self._waiting:
                await asyncio.sleep(0)  # let the rest of this turn's publishers join
                try:
                    channel = await self._channel()
                except Exception as exc:  # no channel: every publisher waiting learns why
                    self._fail_waiting(exc)
                    continue
                batch = [item for item in self._waiting[:MAX_BATCH] if not item[1].done()]
                del self._waiting[:MAX_BATCH]
                if batch:
                    await self._write(channel, batch)
        finally:
            self._writer = None

    async def _write(
        self, channel: AbstractChannel, batch: list[tuple[Publish, asyncio.Future[Any]]]
    ) -> None:
        batch, later = self._without_ids_in_flight(batch)
        try:
            async with compat.timeout(OPERATION_TIMEOUT_S):  # a writer that stopped writing
                outcomes = await write_publishes(channel, [publish for publish, _ in batch])
        except asyncio.CancelledError:
            for _, outcome in batch:
                _fail(outcome, _channel_closed())
            raise
        except Exception as exc:
            for _, outcome in batch:
                _fail(outcome, exc)
            outcomes = []
        for (publish, outcome), written in zip(batch, outcomes, strict=True):
            if isinstance(written, Exception):
                _fail(outcome, written)
                continue
            written.add_done_callback(_relay_to(outcome))
            message_id = publish.properties.message_id
            if message_id:
                self._in_flight[message_id] = written
                written.add_done_callback(self._forget(message_id))
        for publish, outcome in later:  # after the first with its id: once it is confirmed
            busy = self._in_flight.get(str(publish.properties.message_id))
            resubmit = self._resubmit(publish, outcome)
            if busy is None or busy.done():
                resubmit(None)
            else:
                busy.add_done_callback(resubmit)

    def _without_ids_in_flight(
        self, batch: list[tuple[Publish, asyncio.Future[Any]]]
    ) -> tuple[
        list[tuple[Publish, asyncio.Future[Any]]], list[tuple[Publish, asyncio.Future[Any]]]
    ]:
        """The publishes to write now, and those whose message id is in flight (or taken by
        an earlier one of this batch)."""
        now, later, ids = [], [], set()
        for item in batch:
            message_id = item[0].properties.message_id
            busy = self._in_flight.get(message_id) if message_id else None
            if message_id and ((busy is not None and not busy.done()) or message_id in ids):
                later.append(item)
            else:
                now.append(item)
                ids.add(message_id)
        return now, later

    def _forget(self, message_id: str) -> Callable[[asyncio.Future[Any]], None]:
        def forget(confirmation: asyncio.Future[Any]) -> None:
            if self._in_flight.get(message_id) is confirmation:
                del self._in_flight[message_id]

        return forget

    def _resubmit(self, publish: Publish, outcome: asyncio.Future[Any]) -> Callable[[object], None]:
        """Once the same id's confirm ended: back in the queue, unless its caller gave up."""

        def resubmit(_: object) -> None:
            if outcome.done():
                return
            self._waiting.append((publish, outcome))
            self._ensure_writer()

        return resubmit

    def _fail_waiting(self, exc: Exception) -> None:
        waiting, self._waiting = self._waiting, []
        for _, outcome in waiting:
            _fail(outcome, exc)


def _channel_closed() -> ChannelInvalidStateError:
    """What a publish learns when its channel closed before its confirm (NOT_CONNECTED)."""
    return ChannelInvalidStateError("the publishing channel was closed")


def _fail(outcome: asyncio.Future[Any], exc: BaseException) -> None:
    if not outcome.done():
        outcome.set_exception(exc)


def _relay_to(outcome: asyncio.Future[Any]) -> Callable[[asyncio.Future[Any]], None]:
    """Copy a confirmation's ending to the caller's future (a cancelled one means the
    channel went away: never a ``CancelledError`` for a caller nobody cancelled)."""

    def relay(confirmation: asyncio.Future[Any]) -> None:
        if outcome.done():
            return
        if confirmation.cancelled():
            outcome.set_exception(_channel_closed())
        elif (error := confirmation.exception()) is not None:
            outcome.set_exception(error)
        else:
            outcome.set_result(confirmation.result())

    return relay
