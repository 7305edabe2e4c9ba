"""HareRuntime: what hare's capabilities may use of the broker they serve.

The broker is the composition root: it builds one runtime and binds it at ``connect()`` —
the settings in force, the connection, a confirm channel for retry/dead-letter/replay copies
and another for ``publish_message``, the transport of copies (the real broker, or memory under
``TestRabbitBroker``, chosen once there), the dedup stores and the sender of signals.
Subscribers, publishers, pools and streams receive the runtime instead of the broker, so no
capability imports ``broker.py`` and the dependencies of each one are written down here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from faststream_hare._internal import faststream as _faststream
from faststream_hare._internal.confirm import ConfirmedPublisher
from faststream_hare._internal.tasks import end_tasks
from faststream_hare.config.settings import HareSettings
from faststream_hare.dedup.registry import DedupStores
from faststream_hare.errors import HareConfigError, HareError
from faststream_hare.idempotency.registry import IdempotencyStores

logger = logging.getLogger("faststream_hare")

if TYPE_CHECKING:
    import ssl

    from aio_pika.abc import AbstractRobustConnection
    from faststream.rabbit import RabbitExchange

    from faststream_hare.contract.copies import MessageCopy
    from faststream_hare.errors import DeadReport
    from faststream_hare.topology.pipelined import DeclarationChannels


class Transport(Protocol):
    """How hare's work reaches RabbitMQ: the real broker, or memory under ``TestRabbitBroker``.

    Both keep one contract — a copy is sent, then its original is settled — so no capability
    asks which one it has (``transport/``).
    """

    async def send(self, queue: str, copy: MessageCopy) -> None:
        """Send ``copy`` to ``queue`` through the default exchange; raise a ``ConfirmError``
        when the copy was not taken."""

    def held(self, queue: str) -> list[MessageCopy] | None:
        """Copies kept for a queue nobody consumes (memory only; ``None`` on a real broker)."""

    async def replay_dead(self, queue: str, count: int) -> DeadReport:
        """Move up to ``count`` messages of ``queue.dead`` back to ``queue``, head first, each
        copy sent (``send``'s contract) before its original leaves ``queue.dead``; raise
        ``ReplayError`` (with what it moved) when it stops early. Nothing is lost."""

    async def hand_off(
        self,
        handoff: Coroutine[Any, Any, None],
        *,
        in_background: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        """Run a failed delivery's handoff (send the copy, then settle the original)."""

    def producer(self, publisher: Any) -> Any:
        """The FastStream producer ``publish_message`` publishes through."""

    async def declare_exchange(self, name: str, kind: str) -> None:
        """Declare a hare publisher's exchange."""

    async def plain_exchange(self, exchange: RabbitExchange) -> RabbitExchange:
        """A plain publisher's exchange, as it is to be declared."""

    async def declare_topology(
        self, declarations: Sequence[Callable[[DeclarationChannels], Awaitable[None]]]
    ) -> None:
        """Declare the hare subscribers' topology before they start (each declaration is
        given the channels they share)."""

    async def start_consumers(self, starts: Sequence[Callable[[], Awaitable[None]]]) -> None:
        """Start hare subscribers' consumers ahead of the broker's own start, together."""

    async def reach_dedup_store(self, store: object) -> None:
        """Reach the ``dedup_url`` store at start (patiently, then one sentence)."""

    def pool(self, subscriber: Any) -> Any:
        """The consumer pool of a pooled subscriber."""

    async def start_companions(self, companions: list[Companion]) -> None:
        """Start what runs beside the broker (outbox relays)."""


class Companion(Protocol):
    """Something that runs beside the broker (an outbox relay): started after the broker's
    subscribers and publishers, stopped before they are."""

    async def start(self) -> None:
        """Start; the broker is connected."""

    async def stop(self) -> None:
        """Stop; the broker is still connected."""


class HareRuntime:
    """One per broker; see the module docstring. ``sender`` is what signals report as sender."""

    def __init__(
        self,
        *,
        sender: object,
        settings: HareSettings | None,
        connect: Callable[[], Awaitable[Any]],
    ) -> None:
        self.sender = sender
        self._settings_given = settings
        self._settings: HareSettings | None = None
        self._connect = connect
        self.connection: AbstractRobustConnection | None = None
        #: The URL connected to (holds credentials: mask it before showing it anywhere).
        self.connection_url = ""
        self.ssl_context: ssl.SSLContext | None = None
        #: Retry, dead-letter and replay copies.
        self.copies = ConfirmedPublisher(self._live_connection)
        #: ``publish_message`` (a channel error here never fails a retry copy's confirm).
        self.publishes = ConfirmedPublisher(self._live_connection)
        self.dedup = DedupStores()
        #: Leases and done markers of idempotent subscribers (``idempotent=``).
        self.idempotency = IdempotencyStores()
        self._transport: Transport | None = None
        self._memory_session: object = None
        self._tasks: set[asyncio.Task[Any]] = set()
        #: Started with the broker, stopped before it (registered by e.g. ``Outbox``).
        self.companions: list[Companion] = []
        #: The exchanges the broker's hare subscribers declare: name → type (set by the broker).
        self.subscriber_exchanges: Callable[[], dict[str, str]] = dict
        self._reconnected: asyncio.Event | None = None

    # -- settings ------------------------------------------------------------------------

    @property
    def settings(self) -> HareSettings:
        """The settings in force (the environment is read lazily when not given)."""
        if self._settings is None:
            self._settings = self._settings_given or HareSettings()
        return self._settings

    def use_settings(self, settings: HareSettings | None) -> None:
        """Replace the given settings (``None``: read the environment again at the next use)."""
        if settings is not None and not isinstance(settings, HareSettings):
            msg = f"settings must be a HareSettings, got {type(settings).__name__}."
            raise HareConfigError(msg)
        self._settings_given = settings
        self._settings = None

    @property
    def settings_given(self) -> HareSettings | None:
        """The settings object the app gave, if any."""
        return self._settings_given

    def reload_settings(self) -> HareSettings:
        """Resolve the settings for a new run (``start()`` reads the environment again)."""
        self._settings = None
        return self.settings

    # -- the connection --------------------------------------------------------------------

    async def connect(self) -> AbstractRobustConnection:
        """The broker's connection (connecting first when needed)."""
        connection: AbstractRobustConnection = await self._connect()
        return connection

    def use_transport(self, transport: Transport) -> None:
        """The transport until ``connect()`` binds one (the real broker's: before the broker
        started, its sends fail as not connected)."""
        self._transport = transport

    def bind_broker(
        self,
        connection: AbstractRobustConnection,
        *,
        url: str,
        ssl_context: ssl.SSLContext | None,
        transport: Transport,
    ) -> None:
        """The broker connected for real: copies go through ``transport`` (confirmed)."""
        self.connection = connection
        self.connection_url = url
        self.ssl_context = ssl_context
        self._memory_session = None
        self._transport = transport

    def bind_memory(self, session: object, transport: Callable[[], Transport]) -> bool:
        """``TestRabbitBroker`` connected: copies stay in memory.

        ``session`` identifies the test broker's session; a new session starts with a new
        transport, so dead letters do not leak from one test into the next. Returns whether
        this is a new session.
        """
        self.connection = None
        if session is self._memory_session and self._transport is not None:
            return False
        self._memory_session = session
        self._transport = transport()
        self.dedup.memory.clear()
        self.idempotency.memory.clear()
        return True

    @property
    def transport(self) -> Transport:
        """Where copies go; bound at ``connect()``."""
        if self._transport is None:
            msg = "hare is not connected yet; start the broker (or enter TestRabbitBroker) first."
            raise HareError(msg)
        return self._transport

    def held(self, queue: str) -> list[MessageCopy]:
        """The copies kept in memory for ``queue`` (none on a real broker or before
        ``connect()``)."""
        transport = self._transport
        return (transport.held(queue) if transport is not None else None) or []

    def notify_reconnected(self) -> None:
        """The connection is back: wake everything waiting to re-attach (workers, streams)."""
        event, self._reconnected = self._reconnected, None
        if event is not None:
            event.set()

    async def wait_reconnected(self, timeout_s: float) -> None:
        """Wait until the connection comes back, or ``timeout_s`` at most."""
        if self._reconnected is None:
            self._reconnected = asyncio.Event()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._reconnected.wait(), timeout_s)

    def _live_connection(self) -> AbstractRobustConnection | None:
        """The connection, also while it reconnects; ``None`` once it was closed for good."""
        connection = self.connection
        if connection is None or connection.close_called:
            return None
        return connection

    async def start_companions(self) -> None:
        """Start every companion (the broker just started; not in memory)."""
        await self.transport.start_companions(self.companions)

    async def stop_companions(self) -> None:
        """Stop every companion, last started first; one that fails does not keep the
        others running."""
        for companion in reversed(self.companions):
            try:
                await companion.stop()
            except Exception:
                logger.exception("Could not stop %r", companion)

    # -- tasks -----------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Start a background task that ``close()`` cancels and awaits."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        """Close what hare opened (confirm channels, dedup stores, its tasks); never raises."""
        try:
            await end_tasks(list(self._tasks))
        finally:
            try:
                await self.copies.close()
                await self.publishes.close()
            finally:
                try:
                    await self.dedup.aclose()
                finally:
                    await self.idempotency.aclose()
                    self.connection = None


def runtime_of(endpoint: Any, *, kind: str, name: str) -> HareRuntime:
    """The runtime of the broker an endpoint hangs off; one sentence when it is not hare's."""
    broker = _faststream.broker_of(endpoint)
    runtime = getattr(broker, "hare_runtime", None)
    if not isinstance(runtime, HareRuntime):
        msg = (
            f"{kind} '{name}' has hare options but is not attached to a HareBroker; "
            "include its HareRouter in a HareBroker."
        )
        raise HareConfigError(msg)
    return runtime
