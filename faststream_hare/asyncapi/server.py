"""The AsyncAPI server of a HareBroker: the URL in force, without credentials.

``HareBroker()`` without a URL connects to ``settings.url``, resolved when it starts; the
docs are generated without starting it, so the server is resolved from the settings here.
FastStream drops the user and password from the server URL; so does hare.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from faststream.rabbit.utils import build_url

if TYPE_CHECKING:
    from faststream.specification.schema import BrokerSpec


def server_from_url(
    spec: BrokerSpec, url: str, *, overrides: dict[str, object], keep_protocol: bool
) -> tuple[BrokerSpec, str]:
    """``spec`` pointing at ``url`` (host/port/vhost overrides applied); and its vhost."""
    built = build_url(url, **overrides)  # type: ignore[arg-type]
    server = str(built.with_user(None))
    parsed = urlparse(server)
    protocol = spec.protocol if keep_protocol else parsed.scheme
    return replace(spec, url=[server], protocol=protocol), parsed.path
