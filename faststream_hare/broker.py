"""HareBroker and HareRouter: FastStream's RabbitBroker/RabbitRouter with hare options.

The broker is the composition root: it owns the ``HareRuntime`` its capabilities receive and
binds it at ``connect()`` to the real broker or, under ``TestRabbitBroker``, to memory.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from faststream.rabbit import RabbitRouter
from faststream.rabbit.utils import build_url

from faststream_hare._internal import faststream as _faststream
from faststream_hare._internal.masking import mask_url
from faststream_hare._internal.patience import connect_patiently
from faststream_hare.asyncapi.factory import adopt_app, server_from_url
from faststream_hare.config.settings import HareSettings
from faststream_hare.dedup.registry import DedupStores
from faststream_hare.errors import HareConfigError, HareConnectionError
from faststream_hare.registrator import HareRegistrator
from faststream_hare.retry.replay import republish_dead_messages
from faststream_hare.runtime import HareRuntime
from faststream_hare.subscriber import HareSubscriber, ahead_starts
from faststream_hare.telemetry.connection_events import ConnectionEvents, emit_reconnecting
from faststream_hare.transport.broker import BrokerTransport
from faststream_hare.transport.memory import MemoryTransport

if TYPE_CHECKING:
    from types import TracebackType

    from aio_pika import RobustConnection
    from faststream.specification.schema import BrokerSpec

    from faststream_hare.dedup.store import DedupStore
    from faststream_hare.scaling.pool import ConsumerPool

logger = logging.getLogger("faststream_hare.connection")


class HareBroker(HareRegistrator, _faststream.BrokerJoiningApps):
    """A ``RabbitBroker`` whose subscribers and publishers accept hare options.

    ``url=None`` takes the URL from ``HareSettings`` (``HARE_MQ_URL``, then ``RABBITMQ_URL``)
    when the broker starts. Plain subscribers behave exactly as on ``RabbitBroker``.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        settings: HareSettings | None = None,
        **rabbit_broker_kwargs: Any,
    ) -> None:
        if settings is not None and not isinstance(settings, HareSettings):
            msg = f"settings must be a HareSettings, got {type(settings).__name__}."
            raise HareConfigError(msg)
        #: What hare's subscribers, publishers, pools and streams use of this broker.
        self.hare_runtime = HareRuntime(sender=self, settings=settings, connect=self.connect)
        self.hare_runtime.subscriber_exchanges = self._subscriber_exchanges
        self.hare_runtime.use_transport(BrokerTransport(self.hare_runtime))
        self._url_given = url is not None
        self._url_overrides = {
            key: rabbit_broker_kwargs.get(key) for key in ("host", "port", "virtualhost")
        }
        # the AsyncAPI server follows settings.url unless the app fixed the URL itself
        self._server_fixed = url is not None or rabbit_broker_kwargs.get("specification_url")
        self._protocol_given = rabbit_broker_kwargs.get("protocol") is not None
        super().__init__(url if url is not None else "amqp://localhost/", **rabbit_broker_kwargs)
        self._connection_events: ConnectionEvents | None = None

    @property
    def settings(self) -> HareSettings:
        """The settings in force: the given object, or the environment read at ``start()``."""
        return self.hare_runtime.settings

    @settings.setter
    def settings(self, value: HareSettings) -> None:
        if not isinstance(value, HareSettings):
            msg = f"settings must be a HareSettings, got {type(value).__name__}."
            raise HareConfigError(msg)
        self.hare_runtime.use_settings(value)

    @property
    def specification(self) -> BrokerSpec:
        """FastStream's broker specification; the server is ``settings.url`` (no credentials)
        when no URL was given, resolved without connecting (``faststream docs gen``)."""
        spec = self._hare_specification
        if self._server_fixed:
            return spec
        spec, virtual_host = server_from_url(
            spec,
            self.settings.url,
            overrides=self._url_overrides,
            keep_protocol=self._protocol_given,
        )
        _faststream.set_virtual_host(self, virtual_host)
        return spec

    @specification.setter
    def specification(self, value: BrokerSpec) -> None:
        self._hare_specification = value

    def joined_app(self, app: object) -> None:
        """An app (or FastAPI router) adopted the broker: its AsyncAPI gets ``x-hare``."""
        adopt_app(app)

    @property
    def active_settings(self) -> HareSettings:
        """Settings resolved for this run (read lazily when ``start()`` did not run)."""
        return self.hare_runtime.settings

    @property
    def dedup_stores(self) -> DedupStores:
        """Dedup stores of this broker's hare publishers: in-memory, and one per Redis URL."""
        return self.hare_runtime.dedup

    @property
    def dedup_store(self) -> DedupStore:
        """The default dedup store: Redis when ``settings.dedup_url`` is set, else in-memory."""
        return self.dedup_stores.default(self.settings.dedup_url)

    async def connect(self) -> RobustConnection:
        """Resolve the settings (environment included), connect, and bind hare's runtime."""
        if _faststream.connection_of(self) is not None:
            return await super().connect()
        runtime = self.hare_runtime
        settings = runtime.reload_settings()
        if not self._url_given:
            url = build_url(settings.url, **self._url_overrides)
            _faststream.set_connection_url(self, str(url))
        _faststream.set_reconnect_interval(self, settings.reconnect_interval_ms / 1000)
        shown = mask_url(_faststream.connection_url(self))

        def on_retry(reason: str, pause_s: float) -> None:
            emit_reconnecting(
                self, name=self._connection_name, host=shown, reason=reason, pause_s=pause_s
            )

        connection = await connect_patiently(
            super().connect,
            url=_faststream.connection_url(self),
            timeout_s=settings.startup_timeout_ms / 1000,
            max_pause_s=settings.reconnect_interval_ms / 1000,
            on_retry=on_retry,
        )
        if connection is None or _faststream.is_in_memory(self):  # TestRabbitBroker
            runtime.bind_memory(
                _faststream.test_session_of(self),
                lambda: MemoryTransport(runtime, self.hare_subscribers, lambda: runtime.settings),
            )
            return connection
        runtime.bind_broker(
            connection,
            url=_faststream.connection_url(self),
            ssl_context=_faststream.connection_ssl_context(self),
            transport=BrokerTransport(runtime),
        )
        self._connection_events = ConnectionEvents(
            self,
            name=self._connection_name,
            url=_faststream.connection_url(self),
            reconnect_interval_ms=settings.reconnect_interval_ms,
            on_reconnected=runtime.notify_reconnected,
        )
        self._connection_events.attach(connection)
        return connection

    async def start(self) -> None:
        """Declare every hare subscriber's topology, several at a time, start their AMQP
        consumers, several at a time, then start as ``RabbitBroker`` does (the rest, one after
        another), then what runs beside the broker (outbox relays).

        A service that cannot be reached in time is logged in one sentence and raised (under
        ``faststream run`` that sentence is all it prints)."""
        try:
            await self.connect()
            subscribers = self.hare_subscribers()
            transport = self.hare_runtime.transport
            await transport.declare_topology([sub.declare for sub in subscribers])
            openers, followers = ahead_starts(subscribers)
            await transport.start_consumers(openers)
            await transport.start_consumers(followers)
            await super().start()
        except HareConnectionError as exc:
            logger.error("%s", exc)
            raise
        await self.hare_runtime.start_companions()

    @property
    def _connection_name(self) -> str:
        return f"{type(self).__name__}@{id(self):x}"

    async def stop(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,
    ) -> None:
        """Stop subscribers (pools drain, streams store offsets), then close the connection."""
        events, self._connection_events = self._connection_events, None
        try:
            await self.hare_runtime.stop_companions()
            if events is not None:
                await events.aclose()
            await super().stop(exc_type, exc_val, exc_tb)
        finally:
            await self.hare_runtime.close()

    def hare_subscribers(self) -> list[HareSubscriber]:
        """Every subscriber (routers included) that has hare options."""
        return [sub for sub in self.subscribers if isinstance(sub, HareSubscriber)]

    def _subscriber_exchanges(self) -> dict[str, str]:
        """Name → type of every exchange the hare subscribers declare (``E`` and ``Q``)."""
        settings = self.hare_runtime.settings
        return {
            exchange.name: exchange.type
            for sub in self.hare_subscribers()
            for exchange in sub.plan(settings).exchanges
        }

    def hare_subscriber(self, queue: str) -> HareSubscriber:
        """The hare subscriber consuming ``queue``; a clear error when there is none."""
        for sub in self.hare_subscribers():
            if queue in (sub.queue_name, sub.queue.name):
                return sub
        msg = f"No hare subscriber consumes queue '{queue}'; check the queue name."
        raise HareConfigError(msg)

    def consumer_pool(self, queue: str) -> ConsumerPool:
        """The running worker pool of ``queue`` (``size``, ``list_consumers()``, add/remove)."""
        subscriber = self.hare_subscriber(queue)
        if not subscriber.hare.uses_pool:
            return subscriber.pool  # one sentence: not a pooled subscriber
        pool: ConsumerPool = self.hare_runtime.transport.pool(subscriber)
        return pool

    async def republish_dead_messages(self, queue: str, count: int) -> int:
        """Move up to ``count`` messages from ``queue.dead`` back to ``queue``; returns how many."""
        return await republish_dead_messages(self.hare_runtime, queue, count)


class HareRouter(HareRegistrator, RabbitRouter):
    """The router twin of ``HareBroker``: include it in a ``HareBroker``."""
