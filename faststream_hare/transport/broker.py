"""The real broker: confirmed copies, confirmed publishes, declared exchanges, reached stores."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from faststream_hare._internal.tasks import run_bounded
from faststream_hare.dead_letters import replay_letters
from faststream_hare.dedup.registry import reach as reach_dedup_store
from faststream_hare.errors import DeadReport, ReplayError
from faststream_hare.publishing.confirm_producer import ConfirmProducer
from faststream_hare.publishing.exchange import ensure_exchange, plain_exchange
from faststream_hare.topology.declare import CONCURRENT_DECLARATIONS, declare_concurrently
from faststream_hare.topology.pipelined import DeclarationChannels

if TYPE_CHECKING:
    from faststream.rabbit import RabbitExchange

    from faststream_hare.contract.copies import MessageCopy
    from faststream_hare.runtime import Companion, HareRuntime


class BrokerTransport:
    """Sends a copy through the default exchange and waits for the broker's confirm."""

    def __init__(self, runtime: HareRuntime) -> None:
        self.runtime = runtime

    async def send(self, queue: str, copy: MessageCopy) -> None:
        """Raise a ``ConfirmError`` unless the broker confirmed the copy."""
        timeout = self.runtime.settings.confirm_timeout_ms / 1000
        await self.runtime.copies.publish_raw(
            copy.body, copy.properties(), exchange="", routing_key=queue, timeout=timeout
        )

    def held(self, queue: str) -> list[MessageCopy] | None:
        """The real broker holds its queues itself."""
        return None

    async def replay_dead(self, queue: str, count: int) -> DeadReport:
        """The dead-letter engine on the app's connection, its copies confirmed on ``copies``
        (a missing ``Q.dead``, a lost link, an unconfirmed copy: ``ReplayError``)."""
        connection = self.runtime.connection
        if connection is None or connection.is_closed:
            msg = "republish_dead_messages needs a connected broker; call it after broker.start()."
            raise ReplayError(msg, DeadReport(queue, 0, 0, 0, dry_run=False, scanned=0))
        return await replay_letters(connection, queue, count=count, send=self.send)

    async def hand_off(
        self,
        handoff: Coroutine[Any, Any, None],
        *,
        in_background: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        """The consumer moves on while the copy's confirm is in flight (``retry/pending.py``)."""
        in_background(handoff)

    def producer(self, publisher: object) -> ConfirmProducer:
        """``publish_message`` waits for the broker's confirm on its own channel."""
        settings = self.runtime.settings
        return ConfirmProducer(self.runtime.publishes, settings.confirm_timeout_ms / 1000)

    async def declare_exchange(self, name: str, kind: str) -> None:
        """Declare a hare publisher's exchange on a channel of its own."""
        await ensure_exchange(await self.runtime.connect(), name, kind)

    async def plain_exchange(self, exchange: RabbitExchange) -> RabbitExchange:
        """A plain publisher's exchange as it declares it (``publishing/exchange.py``)."""
        runtime = self.runtime
        return await plain_exchange(
            await runtime.connect(), exchange, runtime.subscriber_exchanges()
        )

    async def declare_topology(
        self, declarations: Sequence[Callable[[DeclarationChannels], Awaitable[None]]]
    ) -> None:
        """Declare the hare subscribers' topology before they start, several at a time, on
        channels they share."""
        channels = DeclarationChannels(await self.runtime.connect())
        try:
            await declare_concurrently([partial(declare, channels) for declare in declarations])
        finally:
            await channels.aclose()

    async def start_consumers(self, starts: Sequence[Callable[[], Awaitable[None]]]) -> None:
        """Start the consumers several at a time: a passive declare and a ``basic.consume``
        each (and a channel with its prefetch for the first on a channel), round trips that
        one after another would add up."""
        await run_bounded(starts, CONCURRENT_DECLARATIONS)

    async def reach_dedup_store(self, store: object) -> None:
        """The ``dedup_url`` store is infrastructure, like RabbitMQ: reached patiently."""
        settings = self.runtime.settings
        await reach_dedup_store(
            store,
            timeout_s=settings.startup_timeout_ms / 1000,
            max_pause_s=settings.reconnect_interval_ms / 1000,
        )

    def pool(self, subscriber: Any) -> Any:
        """The subscriber's running worker pool."""
        return subscriber.pool

    async def start_companions(self, companions: list[Companion]) -> None:
        """Start what runs beside the broker (outbox relays), in order."""
        for companion in companions:
            await companion.start()
