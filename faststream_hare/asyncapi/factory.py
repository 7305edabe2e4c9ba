"""``HareAsyncAPI``: FastStream's ``AsyncAPI`` factory, plus each hare channel's ``x-hare``.

FastStream's generator builds every channel from fixed fields, so an extension can only be
added to the finished document. A ``FastStream`` app (or FastAPI router) that adopts a
``HareBroker`` gets this factory in place of its default one: ``faststream docs gen app:app``
needs no change. An app with a factory of its own may pass ``HareAsyncAPI(...)`` instead.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from faststream.rabbit.utils import build_url
from faststream.specification import AsyncAPI

from faststream_hare._internal.faststream import clear_key
from faststream_hare.asyncapi.extension import EXTENSION

if TYPE_CHECKING:
    from faststream.specification.base import Specification
    from faststream.specification.schema import BrokerSpec


class HareAsyncAPI(AsyncAPI):
    """``AsyncAPI(...)`` (same arguments, 3.0 and 2.6) that adds ``x-hare`` to hare channels."""

    def to_specification(self) -> Specification:
        """FastStream's document, with the ``x-hare`` extension of every hare subscriber."""
        document = super().to_specification()
        add_extensions(document, self.brokers)
        return document


def add_extensions(document: Specification, brokers: list[Any]) -> None:
    """Set ``x-hare`` on the channel of each subscriber that describes one."""
    channels: dict[str, Any] = getattr(document, "channels", None) or {}
    for broker in brokers:
        for subscriber in broker.subscribers:
            describe = getattr(subscriber, "asyncapi_extensions", None)
            if describe is None or not subscriber.specification.include_in_schema:
                continue
            for key, extension in describe().items():
                channel = channels.get(clear_key(key), channels.get(key))
                if channel is not None:
                    setattr(channel, EXTENSION, extension)


def adopt_app(app: Any) -> None:
    """Give ``app`` a ``HareAsyncAPI`` when it has FastStream's default factory."""
    factory = getattr(app, "schema", None)
    if type(factory) is AsyncAPI:  # exactly FastStream's: a user's own factory is kept
        hare = HareAsyncAPI.__new__(HareAsyncAPI)
        hare.__dict__.update(vars(factory))
        app.schema = hare


def server_from_url(
    spec: BrokerSpec, url: str, *, overrides: dict[str, object], keep_protocol: bool
) -> tuple[BrokerSpec, str]:
    """``spec`` pointing at ``url`` (host/port/vhost overrides applied); and its vhost."""
    built = build_url(url, **overrides)  # type: ignore[arg-type]
    server = str(built.with_user(None))
    parsed = urlparse(server)
    protocol = spec.protocol if keep_protocol else parsed.scheme
    return replace(spec, url=[server], protocol=protocol), parsed.path
