"""Hare publishers: ``publish_message`` with a ``PublishResult`` and optional deduplication.

The order of a ``publish_message`` call fixes HareMq's publisher bugs: the message is encoded
*before* a dedup key is claimed (E7: a bad message left a claim behind), the claim is atomic
(E7: check-then-add raced) and is released whenever the publish is not confirmed, so a retry
after a failure is published instead of being reported as a duplicate.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from faststream.exceptions import SubscriberNotFound
from faststream.rabbit import RabbitExchange
from faststream.rabbit.publisher.usecase import RabbitPublisher
from faststream.rabbit.schemas import ExchangeType

from faststream_hare._internal import faststream as _faststream
from faststream_hare._internal.log_throttle import LogThrottle
from faststream_hare.asyncapi.channels import hare_exchange, with_exchange
from faststream_hare.contract.encoding import EncodedBody, encode_body
from faststream_hare.dedup.keys import destination_namespace, encode_with_key
from faststream_hare.errors import ConfirmError, EncodingFailedError, ReturnedError
from faststream_hare.publishing.batch import (
    DEFAULT_MAX_IN_FLIGHT,
    BatchDedup,
    BatchHooks,
    batch_encoder,
    check_batch,
    publish_batch,
)
from faststream_hare.publishing.exchange import explain_exchange_clash
from faststream_hare.publishing.results import PublishResult
from faststream_hare.runtime import HareRuntime, runtime_of
from faststream_hare.telemetry import signals

if TYPE_CHECKING:
    from faststream.rabbit.publisher.options import PublishKwargs
    from faststream.specification.schema import PublisherSpec

    from faststream_hare.config.options import Unique
    from faststream_hare.dedup.store import DedupStore

logger = logging.getLogger("faststream_hare.publishing")
#: During an outage every publish fails alike: one line per destination and interval.
_throttled = LogThrottle(logger)


class HarePublisher(RabbitPublisher):
    """A FastStream ``RabbitPublisher`` with ``publish_message`` (HareMq's publisher API).

    It stays a normal FastStream publisher: ``@publisher`` on a handler and
    ``await publisher.publish(...)`` work as on ``RabbitBroker``.
    """

    unique: Unique | None = None
    #: The exchange ``E`` hare declares on start (given by name; ``None``: nothing to declare).
    hare_exchange: str | None = None

    @property
    def hare_runtime(self) -> HareRuntime:
        """The runtime of the HareBroker this publisher belongs to; a clear error otherwise."""
        cached: HareRuntime | None = self.__dict__.get("_hare_runtime")
        if cached is not None:
            return cached
        runtime = runtime_of(self, kind="Publisher", name=self.specification.name)
        self.__dict__["_hare_runtime"] = runtime
        return runtime

    @property
    def dedup_store(self) -> DedupStore | None:
        """The store this publisher's ``unique=`` uses (``None`` without ``unique``)."""
        if self.unique is None:
            return None
        runtime = self.hare_runtime
        return runtime.dedup.resolve(self.unique.store, runtime.settings.dedup_url)

    async def start(self) -> None:
        """Declare ``E`` (type per ``settings.exchange_type``) on a channel of its own,
        unless a subscriber already declared it; then signal ``publisher.connected``."""
        runtime = self.hare_runtime
        transport = runtime.transport
        if self.hare_exchange:
            kind = runtime.settings.exchange_type
            self.exchange = RabbitExchange(
                self.hare_exchange, type=ExchangeType(kind), declare=False
            )
            await transport.declare_exchange(self.hare_exchange, kind)
        elif self.exchange.name:
            self.exchange = await transport.plain_exchange(self.exchange)
        if self.unique is not None and self.unique.store is None:
            # settings.dedup_url is infrastructure, like RabbitMQ: reached patiently at start.
            # A store given to Unique(store=...) is the app's own: an outage there surfaces
            # as HareDedupError on publish (nothing published unchecked), as docs/design.md says.
            await transport.reach_dedup_store(self.dedup_store)
        with explain_exchange_clash(self.exchange):  # a plain one: FastStream declares it
            await super().start()
        signals.emit(
            signals.publisher_connected,
            runtime.sender,
            {"system_time": signals.system_time()},
            self._metadata(),
        )

    def schema(self) -> dict[str, PublisherSpec]:
        """AsyncAPI: a hare publisher's ``E`` as ``start()`` declares it (settings' type)."""
        channels = super().schema()
        if not self.hare_exchange:
            return channels
        kind = self.hare_runtime.settings.exchange_type
        exchange = hare_exchange(self.hare_exchange, kind)
        return {key: with_exchange(spec, exchange) for key, spec in channels.items()}

    async def publish_message(self, message: Any) -> PublishResult:
        """Encode, deduplicate, publish with confirms and report the outcome.

        Raises ``HareDedupError`` (and publishes nothing) when the dedup store cannot be
        reached; every other outcome is a ``PublishResult``.
        """
        runtime = self.hare_runtime
        unique = self.unique
        try:
            if unique is None:
                return await self._send(runtime, encode_body(message))
            encoded, key = encode_with_key(message, unique.keys, self._namespace())
        except EncodingFailedError as exc:
            self._encoding_failed(runtime, exc)
            return PublishResult.ENCODING_FAILED
        store = runtime.dedup.resolve(unique.store, runtime.settings.dedup_url)
        claim = await store.claim(key, unique.period_ms)
        if claim is None:
            self._duplicate(runtime, key)
            return PublishResult.DUPLICATE
        try:
            result = await self._send(runtime, encoded)
        except BaseException:
            # outcome unknown (cancelled, a handler error in memory): a retry must not be a
            # "duplicate"; a failing release must not hide the original exception
            try:
                await store.release(claim)
            except Exception:
                logger.exception("Could not release the dedup claim of '%s'", self.routing())
            raise
        if result is not PublishResult.OK:
            await store.release(claim)
        return result

    async def publish_many(
        self, messages: Iterable[Any], *, max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    ) -> list[PublishResult]:
        """``publish_message`` for many messages, with up to ``max_in_flight`` confirms
        pending at once and the dedup claims of the batch made in one step.

        Returns one ``PublishResult`` per message, in input order. Raises ``HareDedupError``
        (and publishes nothing) when the dedup store cannot be reached.
        """
        batch = check_batch(messages, max_in_flight)
        runtime = self.hare_runtime
        unique = self.unique
        dedup = None
        if unique is not None:
            store = runtime.dedup.resolve(unique.store, runtime.settings.dedup_url)
            dedup = BatchDedup(store, unique.period_ms)
        hooks = BatchHooks(
            encode=batch_encoder(None if unique is None else unique.keys, self._namespace()),
            send=functools.partial(self._send, runtime),
            encoding_failed=functools.partial(self._encoding_failed, runtime),
            duplicate=functools.partial(self._duplicate, runtime),
        )
        return await publish_batch(batch, max_in_flight=max_in_flight, hooks=hooks, dedup=dedup)

    def _namespace(self) -> bytes:
        """Dedup keys are per destination (exchange, routing key); computed once."""
        namespace: bytes | None = self.__dict__.get("_hare_namespace")
        if namespace is None:
            namespace = destination_namespace(self.exchange.name, self.routing())
            self.__dict__["_hare_namespace"] = namespace
        return namespace

    def _duplicate(self, runtime: HareRuntime, key: str) -> None:
        logger.debug("Duplicate message for '%s' not published (key %s)", self.routing(), key)
        if signals.has_receivers(signals.publisher_message_duplicate):
            signals.emit(
                signals.publisher_message_duplicate,
                runtime.sender,
                {"system_time": signals.system_time()},
                {**self._metadata(), "dedup_key": key},
            )

    async def _send(self, runtime: HareRuntime, encoded: EncodedBody) -> PublishResult:
        producer = runtime.transport.producer(self)
        try:
            await _faststream.publish_command(self, self._command(encoded), producer)
        except (ReturnedError, SubscriberNotFound) as exc:
            logger.warning(
                "Message to exchange '%s' with routing key '%s' is unroutable: %s",
                self.exchange.name,
                self.routing(),
                exc if isinstance(exc, ReturnedError) else "no subscriber in memory",
            )
            signals.emit(
                signals.publisher_message_unroutable,
                runtime.sender,
                {"system_time": signals.system_time()},
                {**self._metadata(), "reason": str(exc)},
            )
            return PublishResult.UNROUTABLE
        except ConfirmError as exc:
            _throttled.log(
                logging.WARNING,
                f"{self.routing()}:{type(exc).__name__}",
                "Message to '%s' not published: %s",
                self.routing(),
                exc,
            )
            signals.emit(
                signals.publisher_message_not_connected,
                runtime.sender,
                {"system_time": signals.system_time()},
                {**self._metadata(), "reason": str(exc)},
            )
            return PublishResult.NOT_CONNECTED
        if signals.has_receivers(signals.publisher_message_published):
            signals.emit(
                signals.publisher_message_published,
                runtime.sender,
                {"system_time": signals.system_time()},
                self._metadata(),
            )
        return PublishResult.OK

    def _command(self, encoded: EncodedBody) -> _faststream.RabbitPublishCommand:
        message_id = uuid.uuid4().hex  # FastStream sets none; dedup and idempotency need one
        static = self._static_options()
        kwargs: PublishKwargs = {
            **static,
            "message_id": message_id,
            "correlation_id": message_id,
            "content_type": encoded.content_type or static.get("content_type"),
            "headers": dict(self.headers),  # middlewares may add headers in place
        }
        return _faststream.publish_command_of(
            encoded.body, routing_key=self.routing(), exchange=self.exchange, **kwargs
        )

    def _static_options(self) -> PublishKwargs:
        """The publisher's own options (headers, priority, ...), built once: a hot path."""
        cached: PublishKwargs | None = self.__dict__.get("_hare_static_options")
        if cached is not None:
            return cached
        static: PublishKwargs = {
            **self.publish_options,
            **self.message_options,
            "persist": True,
            "headers": None,
            "reply_to": self.reply_to or None,
            "correlation_id": None,
        }
        self.__dict__["_hare_static_options"] = static
        return static

    def _encoding_failed(self, runtime: HareRuntime, exc: EncodingFailedError) -> None:
        logger.warning("Message to '%s' not published: %s", self.routing(), exc)
        signals.emit(
            signals.publisher_message_encoding_failed,
            runtime.sender,
            {"system_time": signals.system_time()},
            {**self._metadata(), "reason": str(exc)},
        )

    def _metadata(self) -> dict[str, Any]:
        return {
            "publisher": self.specification.name,
            "exchange": self.exchange.name or None,
            "routing_key": self.routing(),
        }
