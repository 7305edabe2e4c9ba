"""``subscriber()`` / ``publisher()`` with hare options, shared by HareBroker and HareRouter."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from faststream.middlewares import AckPolicy
from faststream.rabbit import RabbitExchange, RabbitQueue
from faststream.rabbit.broker.registrator import RabbitRegistrator
from faststream.rabbit.publisher.options import PublishKwargs
from faststream.rabbit.schemas import Channel, ExchangeType

from faststream_hare._internal import faststream as _faststream
from faststream_hare._internal.faststream import EMPTY
from faststream_hare.config.options import Unique
from faststream_hare.config.subscriber import (
    HareSubscriberKeywords,
    SubscriberOptions,
    given_hare_keywords,
)
from faststream_hare.dedup.registry import check_store
from faststream_hare.errors import HareConfigError
from faststream_hare.publishing.publisher import HarePublisher
from faststream_hare.subscriber import HareSubscriber, check_ack_policy

if TYPE_CHECKING:
    from aio_pika.abc import DateType, HeadersType, TimeoutType
    from fast_depends.dependencies import Dependant
    from faststream.rabbit.subscriber import RabbitSubscriber
    from typing_extensions import Unpack

    from faststream_hare._internal.faststream import CodecProto, CustomCallable


class HareRegistrator(RabbitRegistrator):
    """Adds hare's options to FastStream's RabbitMQ ``subscriber()`` and ``publisher()``."""

    def subscriber(  # type: ignore[override]
        self,
        queue: str | RabbitQueue,
        exchange: str | RabbitExchange | None = None,
        *,
        hare: bool = False,
        # FastStream's own keywords, unchanged
        channel: Channel | None = None,
        consume_args: dict[str, Any] | None = None,
        ack_policy: AckPolicy = EMPTY,
        dependencies: Sequence[Dependant] = (),
        parser: CustomCallable | None = None,
        decoder: CustomCallable | None = None,
        codec: CodecProto | None = None,
        no_reply: bool = False,
        persistent: bool = True,
        title: str | None = None,
        description: str | None = None,
        include_in_schema: bool = True,
        **hare_keywords: Unpack[HareSubscriberKeywords],
    ) -> RabbitSubscriber:
        """Subscribe a handler; any hare option (or ``hare=True``) makes it a hare subscriber.

        The hare options are the keywords of ``HareSubscriberKeywords`` (``retry_limit``,
        ``delay_cascade_in_ms``, ``stream``, ``consumer_count``, ...). Without them
        this is exactly ``RabbitBroker.subscriber()``.
        """
        given = given_hare_keywords(hare_keywords)
        if not hare and not given:
            return super().subscriber(
                queue,
                exchange,
                channel=channel,
                consume_args=consume_args,
                ack_policy=ack_policy,
                dependencies=dependencies,
                parser=parser,
                decoder=decoder,
                codec=codec,
                no_reply=no_reply,
                persistent=persistent,
                title=title,
                description=description,
                include_in_schema=include_in_schema,
            )
        queue_name, queue_routing = _queue_parts(queue)
        exchange_name = _exchange_name(exchange)
        routing_key = given.pop("routing_key", None)
        options = SubscriberOptions.from_keywords(
            queue=queue_name,
            exchange=exchange_name,
            routing_key=routing_key if routing_key is not None else queue_routing,
            **given,
        )
        if channel is not None and "prefetch_count" in given:
            msg = (
                "prefetch_count and channel were both given; set the prefetch on the Channel "
                "(Channel(prefetch_count=...)) or drop channel=."
            )
            raise HareConfigError(msg)
        rabbit_queue = RabbitQueue(
            options.queue,
            declare=False,  # hare declares the real topology itself (topology.py)
            routing_key=(options.routing_key or "") if exchange_name else "",
        )
        if options.stream and ack_policy is EMPTY:
            ack_policy = AckPolicy.ACK  # streams must never nack (the broker closes the link)
        if not options.stream:
            policy = (
                ack_policy if ack_policy is not EMPTY else _faststream.inherited_ack_policy(self)
            )
            check_ack_policy(policy, options.queue)
        subscriber = _faststream.build_subscriber(
            HareSubscriber,
            self,
            queue=rabbit_queue,
            exchange=RabbitExchange(exchange_name or "", type=ExchangeType.TOPIC, declare=False)
            if exchange_name
            else RabbitExchange(),
            consume_args=consume_args,
            channel=channel or consuming_channel(options.prefetch_count),
            no_reply=no_reply,
            ack_policy=ack_policy,
            title=title,
            description=description,
            include_in_schema=include_in_schema,
        )
        subscriber.hare = options
        _faststream.register_subscriber(self, subscriber, persistent)
        return subscriber.add_call(
            parser_=parser,
            decoder_=decoder,
            codec_=codec,
            dependencies_=dependencies,
        )

    def publisher(  # type: ignore[override]
        self,
        queue: RabbitQueue | str = "",
        exchange: RabbitExchange | str | None = None,
        *,
        routing_key: str = "",
        unique: Unique | None = None,
        hare: bool = False,
        mandatory: bool = True,
        immediate: bool = False,
        timeout: TimeoutType = None,
        persist: bool = False,
        reply_to: str | None = None,
        priority: int | None = None,
        persistent: bool = True,
        title: str | None = None,
        description: str | None = None,
        schema: Any | None = None,
        include_in_schema: bool = True,
        headers: HeadersType | None = None,
        content_type: str | None = None,
        content_encoding: str | None = None,
        expiration: DateType | None = None,
        message_type: str | None = None,
        user_id: str | None = None,
    ) -> HarePublisher:
        """A FastStream publisher that also has ``await publish_message(message)``.

        Without hare options it declares and documents its exchange as FastStream does (a
        name is a ``direct`` exchange). ``unique=`` or ``hare=True`` make it a hare publisher:
        an exchange given by name is declared on start with ``settings.exchange_type``,
        only when it does not exist yet.
        """
        if unique is not None and not isinstance(unique, Unique):
            msg = (
                f"unique must be a Unique(...) object, got {unique!r}; "
                "write unique=Unique(period_ms=60_000)."
            )
            raise HareConfigError(msg)
        if unique is not None:
            check_store(unique.store)
        # a hare publisher's E given by name: declared on start (settings.exchange_type)
        # if missing; a plain publisher's exchange is FastStream's business
        is_hare = hare or unique is not None
        hare_exchange = exchange if is_hare and isinstance(exchange, str) and exchange else None
        message_kwargs = PublishKwargs(
            mandatory=mandatory,
            immediate=immediate,
            timeout=timeout,
            persist=persist,
            reply_to=reply_to,
            headers=headers,
            priority=priority,
            content_type=content_type,
            content_encoding=content_encoding,
            message_type=message_type,
            user_id=user_id,
            expiration=expiration,
        )
        publisher = _faststream.build_publisher(
            HarePublisher,
            self,
            routing_key=routing_key,
            queue=RabbitQueue.validate(queue),
            exchange=RabbitExchange(hare_exchange, type=ExchangeType.TOPIC, declare=False)
            if hare_exchange
            else RabbitExchange.validate(exchange),
            message_kwargs=message_kwargs,
            schema=schema,
            title=title,
            description=description,
            include_in_schema=include_in_schema,
        )
        publisher.unique = unique
        publisher.hare_exchange = hare_exchange
        _faststream.register_publisher(self, publisher, persistent)
        return publisher


def _queue_parts(queue: str | RabbitQueue) -> tuple[str, str | None]:
    if isinstance(queue, RabbitQueue):
        return queue.name, queue.routing_key or None
    return queue, None


def _exchange_name(exchange: str | RabbitExchange | None) -> str | None:
    if isinstance(exchange, RabbitExchange):
        return exchange.name or None
    return exchange or None


@functools.cache
def consuming_channel(prefetch_count: int | None) -> Channel:
    """The consuming channel of hare subscribers with this prefetch: one ``Channel`` for all of
    them, as plain FastStream subscribers share the broker's (FastStream opens one channel per
    ``Channel`` object). ``basic.qos`` without ``global`` limits each consumer on it on its
    own, so sharing keeps every subscriber's prefetch and saves a channel and two ``basic.qos``
    per subscriber at start-up. Nothing is published on it (replies go through the broker's
    channel, retry copies through hare's own), so it is not put in confirm mode."""
    return Channel(prefetch_count=prefetch_count, publisher_confirms=False)
