"""What an ops command works on: an app's HareBroker (``module:attr``) or a URL and queues."""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from typing import Any

from faststream_hare._internal import faststream as _faststream
from faststream_hare.broker import HareBroker
from faststream_hare.errors import HareConfigError, HareError
from faststream_hare.settings import HareSettings


def load_broker(path: str) -> HareBroker:
    """Import ``module:attribute`` and return its HareBroker (or the app's).

    The module is looked up from the current directory first, as ``faststream run`` does.
    """
    module_name, _, attribute = path.partition(":")
    _import_from_current_directory()
    try:
        target: Any = getattr(importlib.import_module(module_name), attribute or "app")
    except (ImportError, AttributeError) as exc:
        msg = f"APP {path!r} cannot be loaded ({exc}); give MODULE:ATTRIBUTE, e.g. myapp.main:app."
        raise HareConfigError(msg) from None
    brokers = [target] if isinstance(target, HareBroker) else list(getattr(target, "brokers", []))
    broker = getattr(target, "broker", None)
    if broker is not None:
        brokers.append(broker)
    for candidate in brokers:
        if isinstance(candidate, HareBroker):
            return candidate
    msg = f"{path} is neither a HareBroker nor a FastStream app with one"
    raise HareError(msg)


def _import_from_current_directory() -> None:
    """The ``hare`` script's ``sys.path`` starts with its own bin directory, not the one the
    user stands in: put the current directory first, as ``python -m`` and FastStream do."""
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.insert(0, here)


def broker_url(broker: HareBroker) -> str:
    """The AMQP URL the broker uses (or will use when it starts). Contains credentials."""
    if _faststream.connection_of(broker) is not None or getattr(broker, "_url_given", False):
        return _faststream.connection_url(broker)
    return broker.settings.url


@dataclass(frozen=True)
class Target:
    """The URL to use and, when an APP was given, its broker."""

    url: str
    broker: HareBroker | None = None

    @property
    def settings(self) -> HareSettings:
        return self.broker.settings if self.broker is not None else HareSettings()


def resolve_target(app: str | None, url: str | None) -> Target:
    """``APP`` and/or ``--url``: ``--url`` wins for the URL; neither = the environment's URL."""
    broker = load_broker(app) if app else None
    if url is None:
        url = broker_url(broker) if broker is not None else HareSettings().url
    return Target(url=url, broker=broker)
