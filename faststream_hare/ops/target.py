"""What an ops command works on: an app's HareBroker (``module:attr``) or a URL and queues."""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from typing import Any

from faststream_hare._internal import faststream as _faststream
from faststream_hare.broker import HareBroker
from faststream_hare.config.settings import HareSettings
from faststream_hare.errors import HareConfigError, HareError


def load_broker(path: str) -> HareBroker:
    """Import ``module:attribute`` and return its HareBroker.

    The attribute may be a HareBroker, a FastStream app, a ``HareRouter``, or a FastAPI app
    that includes a ``HareRouter``. The module is looked up from the current directory first,
    as ``faststream run`` does.
    """
    module_name, _, attribute = path.partition(":")
    _import_from_current_directory()
    try:
        module = importlib.import_module(module_name)
        target: Any = getattr(module, attribute or "app")
    except (ImportError, AttributeError) as exc:
        msg = f"APP {path!r} cannot be loaded ({exc}); give MODULE:ATTRIBUTE, e.g. myapp.main:app."
        raise HareConfigError(msg) from None
    brokers = [target] if isinstance(target, HareBroker) else list(getattr(target, "brokers", []))
    broker = getattr(target, "broker", None)
    if broker is not None:
        brokers.append(broker)
    if _is_fastapi_app(target):
        brokers.extend(_routers_of_fastapi_app(target, module))
    for candidate in brokers:
        if isinstance(candidate, HareBroker):
            return candidate
    if _is_fastapi_app(target):
        msg = (
            f"{path} is a FastAPI app without a HareRouter: include one "
            "(app.include_router(router)), or point hare at the router itself, "
            f"e.g. {module_name}:router"
        )
        raise HareError(msg)
    msg = (
        f"{path} is neither a HareBroker, a FastStream app with one, nor a FastAPI app with a "
        "HareRouter"
    )
    raise HareError(msg)


def _is_fastapi_app(target: Any) -> bool:
    return any(cls.__name__ == "FastAPI" for cls in type(target).__mro__)


def _routers_of_fastapi_app(app: Any, module: Any) -> list[Any]:
    """The brokers of the HareRouters a FastAPI app includes (its routes and its lifespan),
    else of those its module holds."""
    found: list[Any] = []
    for route in getattr(app.router, "routes", ()):
        found.append(getattr(getattr(route, "original_router", None), "broker", None))
    found.extend(_in_closures(app.router.lifespan_context, depth=8))
    found.extend(getattr(value, "broker", None) for value in vars(module).values())
    return [broker for broker in found if isinstance(broker, HareBroker)]


def _in_closures(function: Any, *, depth: int) -> list[Any]:
    """Brokers of routers captured by a (merged) lifespan: FastAPI wraps each one it includes."""
    owner = getattr(function, "__self__", None)
    if depth == 0:
        return []
    found = [getattr(owner, "broker", None)]
    for cell in getattr(function, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        found.append(getattr(value, "broker", None))
        if callable(value):
            found.extend(_in_closures(value, depth=depth - 1))
    return found


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
