"""HareSubscriber: a RabbitSubscriber that declares hare's topology before it consumes.

The subscriber's own FastStream exchange is the user's ``E`` (so in-memory tests route by it)
and its queue is declared passively: the real topology E → exchange Q → queue Q is declared
by ``topology.declare_plan`` on a channel of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import aiormq.exceptions

from faststream_hare._internal import compat
from faststream_hare._internal import faststream as _faststream
from faststream_hare._internal.faststream import SubscriberUsecase, SubscriberWithOwnMiddlewares
from faststream_hare.asyncapi.channels import hare_channels
from faststream_hare.asyncapi.extension import hare_extension
from faststream_hare.config.subscriber import SubscriberOptions
from faststream_hare.errors import HareConfigError, HareError
from faststream_hare.retry.guard import DeliveryGuard
from faststream_hare.retry.middleware import RetryMiddleware
from faststream_hare.retry.pending import PendingHandoffs
from faststream_hare.retry.requeue_backoff import RequeueBackoff
from faststream_hare.runtime import HareRuntime, runtime_of
from faststream_hare.scaling.pool import ConsumerPool
from faststream_hare.streams.consumer import StreamConsumer
from faststream_hare.telemetry import signals
from faststream_hare.topology.declare import declare_plan, declare_queue
from faststream_hare.topology.delivery_limit import (
    BrokerVersion,
    default_limit,
    server_version,
    unlimited_argument,
)
from faststream_hare.topology.plan import (
    TopologyPlan,
    plan_dead_queue_only,
    plan_stream_topology,
    plan_topology,
)

logger = logging.getLogger("faststream_hare.subscriber")

if TYPE_CHECKING:
    from faststream.specification.schema import SubscriberSpec

    from faststream_hare.config.settings import HareSettings
    from faststream_hare.topology.pipelined import DeclarationChannels


def check_ack_policy(policy: object, queue: str) -> None:
    """A retrying hare subscriber settles messages itself: no ACK_FIRST, no MANUAL."""
    name = getattr(policy, "name", None)
    if name in ("ACK_FIRST", "MANUAL"):
        msg = (
            f"ack_policy={name} cannot be used on hare subscriber '{queue}': hare acks a "
            "failed message only after its retry copy is confirmed; drop ack_policy (on the "
            "subscriber, router or broker) or make this a plain subscriber."
        )
        raise HareConfigError(msg)


class HareSubscriber(SubscriberWithOwnMiddlewares):
    """A subscriber with hare options (retries, streams, pools)."""

    own_middlewares = (RetryMiddleware(),)
    outer_middlewares = (DeliveryGuard(),)

    hare: SubscriberOptions
    _hare_pool: ConsumerPool | None
    _hare_stream: StreamConsumer | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._hare_pool = None
        self._hare_stream = None
        self._hare_runtime: HareRuntime | None = None
        #: Pauses before handing back a message whose copy was not confirmed.
        self.requeue_backoff = RequeueBackoff()
        #: Copies whose confirm is still in flight (their originals are not settled yet).
        self.handoffs = PendingHandoffs()
        #: The delivery limit in force on ``Q`` once started (``None``: no limit).
        self.delivery_limit: int | None = None
        #: ``declare()`` ran for the coming ``start()`` (the broker declares ahead, together).
        self._declared = False
        #: ``start_ahead()`` started it: the broker's own ``start()`` then skips it.
        self._started_ahead = False

    @property
    def queue_name(self) -> str:
        """The real queue name (router prefix applied)."""
        return _faststream.prefixed_queue_name(self)

    @property
    def routing_key(self) -> str:
        """The routing key ``R`` (defaults to the queue name)."""
        prefix = _faststream.router_prefix(self)
        return f"{prefix}{self.hare.routing_key}" if self.hare.routing_key else self.queue_name

    @property
    def hare_runtime(self) -> HareRuntime:
        """The runtime of the HareBroker this subscriber belongs to; a clear error otherwise."""
        if self._hare_runtime is None:  # looked up once: it is read for every message
            self._hare_runtime = runtime_of(self, kind="Subscriber", name=self.queue.name)
        return self._hare_runtime

    def plan(self, settings: HareSettings, version: BrokerVersion | None = None) -> TopologyPlan:
        """The topology this subscriber declares, with the broker's settings applied.

        ``version`` is the broker's: on RabbitMQ 4.0 and later a quorum ``Q`` and ``Q.dead``
        lift the default delivery limit (``topology/delivery_limit.py``).
        """
        if self.hare.stream:
            return plan_stream_topology(
                queue=self.queue_name,
                routing_key=self.routing_key,
                exchange=self.hare.exchange,
                exchange_type=settings.exchange_type,
                initial_cluster_size=settings.stream_initial_cluster_size,
            )
        return plan_topology(
            queue=self.queue_name,
            routing_key=self.routing_key,
            exchange=self.hare.exchange,
            exchange_type=settings.exchange_type,
            queue_type=self.hare.queue_type,
            delay_in_ms=_pick(self.hare.delay_in_ms, settings.delay_in_ms),
            delay_cascade_in_ms=self.hare.delay_cascade_in_ms,
            message_ttl_ms=settings.message_ttl_ms,
            delivery_limit=unlimited_argument(version),
        )

    def schema(self) -> dict[str, SubscriberSpec]:
        """AsyncAPI channels: FastStream's, with the bindings hare declares, and ``Q.dead``."""
        return hare_channels(
            super().schema(),
            options=self.hare,
            queue=self.queue_name,
            exchange_type=self.hare_runtime.settings.exchange_type,
            call_name=self.specification.call_name,
        )

    def asyncapi_extensions(self) -> dict[str, dict[str, Any]]:
        """The ``x-hare`` extension of this subscriber's channel, by channel key."""
        settings = self.hare_runtime.settings
        return {self.specification.name: hare_extension(self.hare, self.plan(settings), settings)}

    async def declare(self, channels: DeclarationChannels | None = None) -> None:
        """Check the options and declare the topology (on ``channels`` that a broker's start
        shares, when given); the next ``start()`` then consumes."""
        runtime = self.hare_runtime
        if not self.hare.stream:  # a router's policy is known only once it is included
            check_ack_policy(self.ack_policy, self.queue_name)
        connection = await runtime.connect()
        version = server_version(connection)
        kept = await declare_plan(connection, self.plan(runtime.settings, version), channels)
        self.delivery_limit = default_limit(version) if self.queue_name in kept else None
        self._declared = True

    @property
    def starts_ahead(self) -> bool:
        """A plain AMQP consumer, which the broker starts together with the others."""
        return not (self.hare.stream or self.hare.uses_pool)

    async def start_ahead(self) -> None:
        """Start now, before the broker's own ``start()`` (which then skips this one)."""
        self._started_ahead = False
        await self.start()
        self._started_ahead = True

    async def start(self) -> None:
        """Declare the topology (unless the broker just did), then consume (AMQP, a worker
        pool, or rstream)."""
        if self._started_ahead:
            self._started_ahead = False
            return
        if not self.hare.stream:
            self.check_retry_runs()
        if not self._declared:
            await self.declare()
        self._declared = False
        runtime = self.hare_runtime
        settings = runtime.settings
        connection = await runtime.connect()
        if self.hare.stream:
            if self.hare.stream_dead_letter:
                await declare_queue(
                    connection,
                    plan_dead_queue_only(
                        queue=self.queue_name, message_ttl_ms=settings.message_ttl_ms
                    ),
                )
            await self._start_stream(runtime)
        elif self.hare.uses_pool:
            await self._start_pool(runtime)
        else:
            await super().start()
        self.emit_connected()

    def check_retry_runs(self) -> None:
        """Refuse to start unless FastStream really wraps this subscriber's messages in
        ``RetryMiddleware``: without it every failure would be rejected, and lost."""
        stack = _faststream.consume_middlewares(self)
        if stack is None or not any(isinstance(m, RetryMiddleware) for m in stack):
            msg = (
                f"hare cannot attach its retry to the subscriber of queue '{self.queue_name}' "
                "with this FastStream release, so it does not start (a failing message would be "
                "lost); install a release hare supports: faststream>=0.7.8,<0.8."
            )
            raise HareError(msg)

    async def stop(self) -> None:
        """Stop consuming: pools drain their workers, streams store their offset."""
        self._started_ahead = False
        if self._hare_pool is not None:
            pool, self._hare_pool = self._hare_pool, None
            await pool.stop()  # each worker settles its own channel's handoffs
            await self.wait_handoffs()  # those of channels a worker lost before
            await SubscriberUsecase.stop(self)
            return
        if self._hare_stream is not None:
            stream, self._hare_stream = self._hare_stream, None
            self.running = False
            await stream.stop()
            await SubscriberUsecase.stop(self)
            return
        try:
            await self._stop_amqp_consumer()
        finally:  # the channel is still open: let copies in flight settle their originals
            await self.wait_handoffs()

    async def wait_handoffs(self, channel: object = None) -> None:
        """Wait (at most the drain timeout) for copies whose confirm is in flight: those of
        messages that came on ``channel`` (a pool worker's), or all of them."""
        runtime = self._hare_runtime
        drain_s = runtime.settings.shutdown_drain_timeout_ms / 1000 if runtime else 5.0
        await self.handoffs.wait(drain_s, channel=channel)

    async def _stop_amqp_consumer(self) -> None:
        """FastStream's stop; a consumer that cannot be cancelled because the link is down
        is gone with its channel already (unacked messages return to the queue)."""
        try:
            await super().stop()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and compat.cancelling(task):
                raise  # we are being cancelled ourselves
            self._log_lost_consumer("the connection is down")
        except (aiormq.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
            self._log_lost_consumer(type(exc).__name__)

    def _log_lost_consumer(self, reason: str) -> None:
        logger.warning(
            "Consumer of queue '%s' could not be cancelled (%s); it went with its channel",
            self.queue_name,
            reason,
        )

    async def _start_stream(self, runtime: HareRuntime) -> None:
        await SubscriberUsecase.start(self)
        self._hare_stream = StreamConsumer(self, runtime)
        await self._hare_stream.start()
        _faststream.post_start(self)

    async def _start_pool(self, runtime: HareRuntime) -> None:
        await SubscriberUsecase.start(self)
        self._hare_pool = ConsumerPool(self, runtime)
        _faststream.post_start(self)
        await self._hare_pool.start()

    @property
    def pool(self) -> ConsumerPool:
        """This subscriber's worker pool (only for ``consumer_count``/``auto_scaling``)."""
        if self._hare_pool is None:
            msg = (
                f"Queue '{self.queue_name}' has no running consumer pool; start the broker "
                "and give the subscriber consumer_count=... or auto_scaling=...."
            )
            raise HareError(msg)
        return self._hare_pool

    def emit_connected(self) -> None:
        """Signal ``consumer.connected`` (also after a stream consumer reconnects)."""
        signals.emit(
            signals.consumer_connected,
            self.hare_runtime.sender,
            {"system_time": signals.system_time()},
            {
                "consumer": self.specification.call_name,
                "queue": self.queue_name,
                "exchange": self.hare.exchange,
                "routing_key": self.routing_key,
                "stream": self.hare.stream,
            },
        )


def ahead_starts(
    subscribers: Sequence[HareSubscriber],
) -> tuple[list[Callable[[], Awaitable[None]]], list[Callable[[], Awaitable[None]]]]:
    """What the broker starts together, in two waves: the first subscriber of each channel
    (FastStream opens a channel on its first use, two at once would open it twice), then all
    the others. Pools and streams start in FastStream's own loop."""
    openers: dict[int, HareSubscriber] = {}
    followers: list[HareSubscriber] = []
    for subscriber in (s for s in subscribers if s.starts_ahead):
        if openers.setdefault(id(subscriber.channel), subscriber) is not subscriber:
            followers.append(subscriber)
    return [s.start_ahead for s in openers.values()], [s.start_ahead for s in followers]


def _pick(value: int | None, default: int) -> int:
    return default if value is None else value
