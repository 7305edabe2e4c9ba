"""Where the stream protocol lives: host, port, vhost and credentials for rstream.

Stream consumers reuse the broker's AMQP URL (same host, vhost and credentials; port 5552, or
5551 for ``amqps``) unless ``settings.stream_url`` names the stream endpoint explicitly with a
``rabbitmq-stream://`` (or ``rabbitmq-stream+tls://``) URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from yarl import URL

from faststream_hare._internal.masking import mask_url
from faststream_hare.errors import HareConfigError

STREAM_PORT = 5552
STREAM_TLS_PORT = 5551
_AMQP_SCHEMES = {"amqp": False, "amqps": True}
_STREAM_SCHEMES = {"rabbitmq-stream": False, "rabbitmq-stream+tls": True}
#: Base of the rstream connection names when the AMQP URL has no ``?name=``.
DEFAULT_CONNECTION_NAME = "faststream-hare"


@dataclass(frozen=True)
class StreamEndpoint:
    """Everything rstream needs to open a connection (the password never shows in ``repr``)."""

    host: str
    port: int
    vhost: str
    username: str
    password: str = field(repr=False)
    tls: bool = False
    connection_name: str = DEFAULT_CONNECTION_NAME

    @property
    def display(self) -> str:
        """``rabbitmq-stream://user:***@host:port/vhost`` for logs and errors."""
        scheme = "rabbitmq-stream+tls" if self.tls else "rabbitmq-stream"
        return mask_url(f"{scheme}://{self.username}:x@{self.host}:{self.port}/{self.vhost}")


def stream_endpoint(amqp_url: str, stream_url: str | None = None) -> StreamEndpoint:
    """The stream endpoint: ``stream_url`` when set, otherwise derived from ``amqp_url``.

    The connection name comes from the AMQP URL's ``?name=`` (so operators and tests find
    the stream connections next to the AMQP one), falling back to ``faststream-hare``.
    """
    amqp = _parse(amqp_url, "url", _AMQP_SCHEMES, "amqp://user:password@host:5672/vhost")
    name = amqp.query.get("name") or DEFAULT_CONNECTION_NAME
    if stream_url:
        url = _parse(
            stream_url,
            "stream_url",
            _STREAM_SCHEMES,
            "rabbitmq-stream://user:password@host:5552/vhost",
        )
        tls = _STREAM_SCHEMES[url.scheme]
        name = url.query.get("name") or name
    else:
        url = amqp
        tls = _AMQP_SCHEMES[url.scheme]
    default_port = STREAM_TLS_PORT if tls else STREAM_PORT
    return StreamEndpoint(
        host=url.host or "localhost",
        port=(url.explicit_port or default_port) if stream_url else default_port,
        vhost=url.path[1:] or "/",
        username=url.user or "guest",
        password=url.password or "guest",
        tls=tls,
        connection_name=name,
    )


def _parse(raw: str, option: str, schemes: dict[str, bool], example: str) -> URL:
    try:
        url = URL(raw)
    except (TypeError, ValueError):
        url = None
    if url is None or url.scheme not in schemes:
        allowed = " or ".join(f"{scheme}://" for scheme in schemes)
        msg = (
            f"HareSettings.{option} must be a {allowed} URL, got {mask_url(str(raw))!r}; "
            f"write it as {example}."
        )
        raise HareConfigError(msg)
    return url
