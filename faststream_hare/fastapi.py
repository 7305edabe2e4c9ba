"""``HareRouter`` for FastAPI: FastStream's ``RabbitRouter`` whose broker is a ``HareBroker``.

``from faststream_hare.fastapi import HareRouter`` replaces
``from faststream.rabbit.fastapi import RabbitRouter``: the broker starts and stops with the
FastAPI app, handlers take FastAPI's ``Depends``, and ``subscriber()``/``publisher()`` take
the same hare options as ``HareBroker``'s. Needs the ``fastapi`` extra.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from faststream_hare._internal.extras import missing_extra

try:
    from fastapi.datastructures import Default
    from faststream.rabbit.fastapi import RabbitRouter
except ModuleNotFoundError as exc:
    raise missing_extra(__name__, exc) from None

from faststream.middlewares import AckPolicy

from faststream_hare._internal.faststream import EMPTY
from faststream_hare.broker import HareBroker
from faststream_hare.config.settings import HareSettings
from faststream_hare.config.subscriber import HareSubscriberKeywords, given_hare_keywords
from faststream_hare.errors import HareConfigError

if TYPE_CHECKING:
    from aio_pika.abc import DateType, HeadersType, TimeoutType
    from fastapi import params
    from fastapi.types import IncEx
    from faststream.rabbit.schemas import Channel, RabbitExchange, RabbitQueue
    from faststream.rabbit.subscriber import RabbitSubscriber
    from typing_extensions import Unpack

    from faststream_hare._internal.faststream import CustomCallable
    from faststream_hare.config.options import Unique
    from faststream_hare.publishing.publisher import HarePublisher

__all__ = ("HareRouter",)

_NO_RESPONSE_MODEL: Any = Default(None)  # FastAPI's "not given"


class HareRouter(RabbitRouter):
    """FastStream's FastAPI ``RabbitRouter`` on a ``HareBroker`` (``router.broker``).

    ``url=None`` takes the URL from ``HareSettings`` when the app starts, as ``HareBroker()``
    does; ``settings=`` gives the broker its settings. Every other keyword is RabbitRouter's.
    """

    broker_class = HareBroker  # type: ignore[assignment]  # its __init__ takes settings=
    broker: HareBroker

    def __init__(
        self, url: str | None = None, *, settings: HareSettings | None = None, **kwargs: Any
    ) -> None:
        if settings is not None and not isinstance(settings, HareSettings):
            msg = f"settings must be a HareSettings, got {type(settings).__name__}."
            raise HareConfigError(msg)
        super().__init__(url, **kwargs)
        if settings is not None:
            self.broker.settings = settings

    def subscriber(  # type: ignore[override]
        self,
        queue: str | RabbitQueue,
        exchange: str | RabbitExchange | None = None,
        *,
        hare: bool = False,
        # RabbitRouter's own keywords, unchanged
        channel: Channel | None = None,
        consume_args: dict[str, Any] | None = None,
        dependencies: Iterable[params.Depends] = (),
        parser: CustomCallable | None = None,
        decoder: CustomCallable | None = None,
        ack_policy: AckPolicy = EMPTY,
        no_reply: bool = False,
        title: str | None = None,
        description: str | None = None,
        include_in_schema: bool = True,
        response_model: Any = _NO_RESPONSE_MODEL,
        response_model_include: IncEx | None = None,
        response_model_exclude: IncEx | None = None,
        response_model_by_alias: bool = True,
        response_model_exclude_unset: bool = False,
        response_model_exclude_defaults: bool = False,
        response_model_exclude_none: bool = False,
        **hare_keywords: Unpack[HareSubscriberKeywords],
    ) -> RabbitSubscriber:
        """``HareBroker.subscriber()`` for a FastAPI handler (``Depends`` work in it)."""
        given = given_hare_keywords(hare_keywords)
        if hare:
            given["hare"] = True
        # skip RabbitRouter.subscriber (it knows no hare keyword); its parent wraps the handler
        subscriber = super(RabbitRouter, self).subscriber(
            queue=queue,
            exchange=exchange,
            consume_args=consume_args,
            channel=channel,
            dependencies=dependencies,
            parser=parser,
            decoder=decoder,
            ack_policy=ack_policy,
            no_reply=no_reply,
            title=title,
            description=description,
            include_in_schema=include_in_schema,
            response_model=response_model,
            response_model_include=response_model_include,
            response_model_exclude=response_model_exclude,
            response_model_by_alias=response_model_by_alias,
            response_model_exclude_unset=response_model_exclude_unset,
            response_model_exclude_defaults=response_model_exclude_defaults,
            response_model_exclude_none=response_model_exclude_none,
            **given,
        )
        return cast("RabbitSubscriber", subscriber)

    def publisher(
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
        """``HareBroker.publisher()``: ``publish_message``, and ``unique=``/``hare=True``."""
        return self.broker.publisher(
            queue=queue,
            exchange=exchange,
            routing_key=routing_key,
            unique=unique,
            hare=hare,
            mandatory=mandatory,
            immediate=immediate,
            timeout=timeout,
            persist=persist,
            reply_to=reply_to,
            priority=priority,
            title=title,
            description=description,
            schema=schema,
            include_in_schema=include_in_schema,
            headers=headers,
            content_type=content_type,
            content_encoding=content_encoding,
            expiration=expiration,
            message_type=message_type,
            user_id=user_id,
        )
