"""Memory, under ``TestRabbitBroker(HareBroker(...))``: hare plays RabbitMQ's part.

A copy sent to a delay queue is delivered straight back to its subscriber (the delay is not
waited for), a copy sent to ``Q.dead`` is kept here (``testing.dead_letters`` shows them), and a
failed delivery is handed off before the test's publish returns. The broker binds a new
``MemoryTransport`` for each test-broker session, so nothing leaks between tests.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from faststream.rabbit.testing import build_message

from faststream_hare._internal import faststream as _faststream
from faststream_hare.contract.headers import replay_headers
from faststream_hare.contract.names import dead_queue_name
from faststream_hare.errors import ConfirmError, DeadReport, ReplayError
from faststream_hare.scaling.memory import in_memory_pool

if TYPE_CHECKING:
    from faststream.rabbit import RabbitExchange

    from faststream_hare.config.settings import HareSettings
    from faststream_hare.contract.copies import MessageCopy
    from faststream_hare.runtime import Companion, HareRuntime
    from faststream_hare.scaling.memory import InMemoryPool
    from faststream_hare.subscriber import HareSubscriber
    from faststream_hare.topology.pipelined import DeclarationChannels


class MemoryTransport:
    """Delivers delay-queue copies back to their subscriber at once; keeps the rest."""

    def __init__(
        self,
        runtime: HareRuntime,
        subscribers: Callable[[], Iterable[HareSubscriber]],
        settings: Callable[[], HareSettings],
    ) -> None:
        self._runtime = runtime
        self._subscribers = subscribers
        self._settings = settings
        self._queues: defaultdict[str, list[MessageCopy]] = defaultdict(list)

    def held(self, queue: str) -> list[MessageCopy]:
        """The copies kept for ``queue`` (``Q.dead`` and the like), oldest first."""
        return self._queues[queue]

    async def replay_dead(self, queue: str, count: int) -> DeadReport:
        """The held copies of ``queue.dead``, head first, sent to ``queue`` one by one."""
        dead = self._queues[dead_queue_name(queue)]
        # Take the batch first: in memory a replayed message that fails again is dead-lettered
        # synchronously, and must not be picked up a second time by this same call.
        batch, dead[:count] = dead[:count], []
        for position, copy in enumerate(batch):
            try:
                await self.send(queue, copy.with_headers(replay_headers(copy.headers)))
            except ConfirmError as failure:
                dead[:0] = batch[position:]  # not taken: back at the head, in order
                report = DeadReport(queue, position, 0, 1, False, position + 1, str(failure))
                msg = f"Replay to '{queue}' stopped after {position} message(s): {failure}"
                raise ReplayError(msg, report) from failure
        return DeadReport(queue, len(batch), 0, 0, dry_run=False, scanned=len(batch))

    async def send(self, queue: str, copy: MessageCopy) -> None:
        """Deliver to the queue's subscriber at once, or keep the copy."""
        target = self._consumer_of(queue)
        if target is None:
            self._queues[queue].append(copy)
            return
        subscriber, exchange, routing_key = target
        incoming = await build_message(
            copy.body,
            exchange=exchange,
            routing_key=routing_key,
            headers=copy.headers,
            content_type=copy.content_type,
            content_encoding=copy.content_encoding,
            message_id=copy.message_id,
            correlation_id=copy.correlation_id,
            priority=copy.priority,
            reply_to=copy.reply_to,
            persist=True,
        )
        await _faststream.process_message(subscriber, incoming)

    async def hand_off(
        self,
        handoff: Coroutine[Any, Any, None],
        *,
        in_background: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        """At once: the test sees the message handed off when its publish returns."""
        await handoff

    def producer(self, publisher: Any) -> Any:
        """FastStream's fake producer: the test broker delivers the message itself."""
        return _faststream.producer_of(publisher)

    async def declare_exchange(self, name: str, kind: str) -> None:
        """Nothing to declare in memory."""

    async def plain_exchange(self, exchange: RabbitExchange) -> RabbitExchange:
        """The exchange as the app wrote it: nothing is declared in memory."""
        return exchange

    async def declare_topology(
        self, declarations: Sequence[Callable[[DeclarationChannels], Awaitable[None]]]
    ) -> None:
        """Nothing to declare in memory."""

    async def start_consumers(self, starts: Sequence[Callable[[], Awaitable[None]]]) -> None:
        """FastStream's in-memory start starts them, one after another."""

    async def reach_dedup_store(self, store: object) -> None:
        """Nothing is reached in memory (a test publishes without Redis running)."""

    def pool(self, subscriber: Any) -> InMemoryPool:
        """A stand-in pool with names and counts (``scaling/memory.py``), one per session."""
        return in_memory_pool(subscriber, self._runtime, self)

    async def start_companions(self, companions: list[Companion]) -> None:
        """Companions (outbox relays) do not run in memory: a test drives them itself."""

    def _consumer_of(self, queue: str) -> tuple[HareSubscriber, str, str] | None:
        """Who receives a copy sent to ``queue``: its delay queue's owner, or its consumer."""
        settings = self._settings()
        for subscriber in self._subscribers():
            if subscriber.hare.stream:
                continue
            if queue in subscriber.plan(settings).delay_queues:
                return subscriber, subscriber.queue_name, subscriber.routing_key
            if queue == subscriber.queue_name:
                return subscriber, "", subscriber.queue_name
        return None
