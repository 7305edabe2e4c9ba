"""The one module that touches FastStream's private internals (pinned ``<0.8``).

Everything else in faststream_hare goes through these helpers, so a FastStream upgrade that
moves an internal name breaks in exactly one place.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any, TypeVar, cast

from faststream._internal.broker.registrator import Registrator
from faststream._internal.constants import EMPTY
from faststream._internal.context.repository import ContextRepo
from faststream._internal.endpoint.subscriber import SubscriberUsecase
from faststream._internal.endpoint.subscriber.call_item import CallsCollection
from faststream._internal.parser import CodecProto
from faststream._internal.types import CustomCallable
from faststream._internal.utils.path import Address
from faststream.rabbit import RabbitBroker
from faststream.rabbit.publisher.config import (
    RabbitPublisherConfig,
    RabbitPublisherSpecificationConfig,
)
from faststream.rabbit.publisher.specification import RabbitPublisherSpecification
from faststream.rabbit.publisher.usecase import RabbitPublisher
from faststream.rabbit.response import RabbitPublishCommand
from faststream.rabbit.schemas.queue import RABBIT_ADDRESS_SYNTAX
from faststream.rabbit.subscriber.config import (
    RabbitSubscriberConfig,
    RabbitSubscriberSpecificationConfig,
)
from faststream.rabbit.subscriber.specification import RabbitSubscriberSpecification
from faststream.rabbit.subscriber.usecase import RabbitSubscriber
from faststream.response.publish_type import PublishType
from faststream.specification.asyncapi.utils import clear_key

if TYPE_CHECKING:
    from aio_pika import RobustConnection
    from faststream.middlewares import AckPolicy
    from faststream.rabbit.configs import RabbitBrokerConfig
    from faststream.rabbit.publisher.options import PublishKwargs
    from faststream.rabbit.schemas import Channel, RabbitExchange, RabbitQueue

__all__ = (  # re-exported for the rest of the package
    "EMPTY",
    "CodecProto",
    "ContextRepo",
    "CustomCallable",
    "RabbitPublishCommand",
    "SubscriberUsecase",
    "clear_key",
)

SubscriberT = TypeVar("SubscriberT", bound=RabbitSubscriber)


class SubscriberWithOwnMiddlewares(RabbitSubscriber):
    """A subscriber that runs middlewares of its own inside the broker's.

    FastStream builds each message's middleware stack from ``_broker_middlewares``; adding
    hare's there (instead of to the broker) keeps every plain endpoint's middlewares exactly
    the user's, and puts hare inside FastStream's telemetry and metrics middlewares.
    """

    own_middlewares: tuple[Any, ...] = ()
    #: Outside the broker's middlewares: they see whatever those raise (after the handler too).
    outer_middlewares: tuple[Any, ...] = ()

    @property
    def _broker_middlewares(self) -> tuple[Any, ...]:
        return (
            *self.outer_middlewares,
            *self._outer_config.broker_middlewares,
            *self.own_middlewares,
        )


PublisherT = TypeVar("PublisherT", bound=RabbitPublisher)


def build_subscriber(
    cls: type[SubscriberT],
    registrator: Any,
    *,
    queue: RabbitQueue,
    exchange: RabbitExchange,
    consume_args: dict[str, Any] | None,
    channel: Channel | None,
    no_reply: bool,
    ack_policy: AckPolicy,
    title: str | None,
    description: str | None,
    include_in_schema: bool,
) -> SubscriberT:
    """``faststream.rabbit.subscriber.factory.create_subscriber`` with a subscriber class."""
    config = cast("RabbitBrokerConfig", registrator.config)
    calls = CallsCollection[Any]()
    subscriber_config = RabbitSubscriberConfig(
        no_reply=no_reply,
        consume_args=consume_args,
        channel=channel,
        queue=queue,
        exchange=exchange,
        _ack_policy=ack_policy,
        _outer_config=config,
    )
    specification = RabbitSubscriberSpecification(
        _outer_config=config,
        specification_config=RabbitSubscriberSpecificationConfig(
            title_=title,
            description_=description,
            include_in_schema=include_in_schema,
            queue=queue,
            exchange=exchange,
        ),
        calls=calls,
    )
    return cls(config=subscriber_config, specification=specification, calls=calls)


def register_subscriber(registrator: Any, subscriber: RabbitSubscriber, persistent: bool) -> None:
    """Add a subscriber the way ``RabbitRegistrator.subscriber`` does."""
    Registrator.subscriber(registrator, subscriber, persistent=persistent)


def build_publisher(
    cls: type[PublisherT],
    registrator: Any,
    *,
    routing_key: str,
    queue: RabbitQueue,
    exchange: RabbitExchange,
    message_kwargs: PublishKwargs,
    schema: Any | None,
    title: str | None,
    description: str | None,
    include_in_schema: bool,
) -> PublisherT:
    """``faststream.rabbit.publisher.factory.create_publisher`` with a publisher class."""
    config = cast("RabbitBrokerConfig", registrator.config)
    routing_address = Address(routing_key, RABBIT_ADDRESS_SYNTAX)
    publisher_config = RabbitPublisherConfig(
        routing_address=routing_address,
        message_kwargs=message_kwargs,
        queue=queue,
        exchange=exchange,
        _outer_config=config,
    )
    specification = RabbitPublisherSpecification(
        _outer_config=config,
        specification_config=RabbitPublisherSpecificationConfig(
            message_kwargs=message_kwargs,
            routing_address=routing_address,
            queue=queue,
            exchange=exchange,
            schema_=schema,
            title_=title,
            description_=description,
            include_in_schema=include_in_schema,
        ),
    )
    return cls(config=publisher_config, specification=specification)


def register_publisher(registrator: Any, publisher: RabbitPublisher, persistent: bool) -> None:
    """Add a publisher the way ``RabbitRegistrator.publisher`` does."""
    Registrator.publisher(registrator, publisher, persistent=persistent)


def broker_of(endpoint: RabbitSubscriber | RabbitPublisher) -> RabbitBroker | None:
    """The broker a subscriber/publisher is attached to (``None`` for a detached router)."""
    broker = endpoint._outer_config.extra_context.get("broker")
    return cast("RabbitBroker | None", broker)


def router_prefix(subscriber: RabbitSubscriber) -> str:
    """The prefix of the router(s) the subscriber was registered on."""
    return str(subscriber._outer_config.prefix)


def prefixed_queue_name(subscriber: RabbitSubscriber) -> str:
    """The real queue name, with the router prefix applied."""
    return f"{subscriber._outer_config.prefix}{subscriber.queue.name}"


def is_in_memory(broker: RabbitBroker) -> bool:
    """True while ``TestRabbitBroker`` has patched ``broker`` (no real connection exists)."""
    from faststream.rabbit.testing import FakeProducer

    return isinstance(broker.config.producer, FakeProducer)


def connection_of(broker: RabbitBroker) -> RobustConnection | None:
    """The broker's live robust connection, or ``None`` before ``connect()``."""
    return broker._connection


def set_connection_url(broker: RabbitBroker, url: str) -> None:
    """Point the not-yet-connected broker at ``url`` (settings are read at start)."""
    broker._connection_kwargs["url"] = url


def connection_url(broker: RabbitBroker) -> str:
    """The URL the broker connects to (contains credentials: mask before showing it)."""
    return str(broker._connection_kwargs.get("url", ""))


def set_reconnect_interval(broker: RabbitBroker, seconds: float) -> None:
    """aio-pika's robust reconnect interval, from ``settings.reconnect_interval_ms``."""
    broker._connection_kwargs["reconnect_interval"] = seconds


def handler_functions(subscriber: RabbitSubscriber) -> list[Any]:
    """The user's original handler functions of a subscriber (to spot errors raised in them)."""
    functions = []
    for call in subscriber.calls:
        handler = getattr(call, "handler", None)
        original = getattr(handler, "_declared_call", None)
        if original is not None:
            functions.append(original)
    return functions


def connection_ssl_context(broker: RabbitBroker) -> ssl.SSLContext | None:
    """The SSL context the broker's AMQP connection uses (reused for the stream protocol)."""
    context = broker._connection_kwargs.get("ssl_context")
    return context if isinstance(context, ssl.SSLContext) else None


async def publish_command(publisher: RabbitPublisher, cmd: Any, producer: Any) -> Any:
    """Send ``cmd`` through the publisher's middlewares (``publish_scope``) to ``producer``."""
    return await publisher._basic_publish(cmd, producer=producer, _extra_middlewares=())


def producer_of(publisher: RabbitPublisher) -> Any:
    """The broker's current producer (FastStream's ``FakeProducer`` under TestRabbitBroker)."""
    return publisher._outer_config.producer


async def process_message(subscriber: RabbitSubscriber, message: Any) -> Any:
    """Hand an incoming message to a subscriber as ``TestRabbitBroker`` does."""
    return await subscriber.process_message(message)


def test_session_of(broker: RabbitBroker) -> object:
    """What identifies a ``TestRabbitBroker`` session: it installs a new fake producer."""
    return broker.config.producer


def post_start(subscriber: RabbitSubscriber) -> None:
    """FastStream's bookkeeping after a subscriber started consuming (hare's own consumers)."""
    subscriber._post_start()


def publish_command_of(
    body: bytes, *, routing_key: str, exchange: RabbitExchange, **kwargs: Any
) -> RabbitPublishCommand:
    """A plain publish command, as ``RabbitPublisher.publish`` builds one."""
    return RabbitPublishCommand(
        body,
        routing_key=routing_key,
        exchange=exchange,
        _publish_type=PublishType.PUBLISH,
        **kwargs,
    )


def inherited_ack_policy(registrator: Any) -> AckPolicy | None:
    """The ack policy a broker or router hands down to its subscribers (``None``: unset)."""
    policy = getattr(registrator.config, "ack_policy", EMPTY)
    return None if policy is EMPTY else cast("AckPolicy", policy)


# -- AsyncAPI: what FastStream's generator reads, and the app that generates it -------------


class BrokerJoiningApps(RabbitBroker):
    """A broker told about the app (``FastStream`` or a FastAPI router) that adopts it.

    FastStream offers no public hook there; the app hands its config to every broker it
    adds (``_update_fd_config``), with the app itself in the config's context as ``"app"``.
    """

    def _update_fd_config(self, config: Any) -> None:
        super()._update_fd_config(config)
        app = config.context.get("app")
        if app is not None:
            self.joined_app(app)

    def joined_app(self, app: Any) -> None:
        """Called with each app that adds this broker."""


def set_virtual_host(broker: RabbitBroker, virtual_host: str) -> None:
    """The vhost AsyncAPI bindings show (FastStream takes it from the URL at ``__init__``)."""
    broker.config.broker_config.virtual_host = virtual_host


def consume_middlewares(subscriber: RabbitSubscriber) -> tuple[Any, ...] | None:
    """The middleware factories FastStream's ``process_message`` wraps each message of
    ``subscriber`` in (its own acknowledgement middleware first); ``None`` when this FastStream
    builds them some other way."""
    build = getattr(subscriber, "_SubscriberUsecase__build__middlewares_stack", None)
    if build is None:
        return None
    return tuple(build())


def middlewares_of(endpoint: RabbitSubscriber | RabbitPublisher) -> tuple[Any, ...]:
    """The broker middlewares FastStream wraps an endpoint's messages in (outermost first)."""
    if isinstance(endpoint, SubscriberUsecase):
        return tuple(endpoint._broker_middlewares)
    return tuple(endpoint._outer_config.broker_middlewares)
